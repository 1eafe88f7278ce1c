package mask

import (
	"bytes"
	"fmt"
)

// plainRow masks a text or csv line none of whose fields has an escape or
// a quote, so that every delimiter separates two fields. Past the last
// masked column it only counts the delimiters.
func (p *CopyPlan) plainRow(dst, row []byte) ([]byte, error) {
	d, last := p.opts.Delimiter, len(p.cols)-1
	if last < 0 {
		return p.noColumns(dst, row)
	}
	from, run := 0, 0
	for i := 0; i <= p.lastMasked; i++ {
		end := len(row)
		if j := bytes.IndexByte(row[from:], d); j >= 0 {
			end = from + j
		}
		if end == len(row) && i != last {
			return dst, fmt.Errorf("%w: row has %d columns, plan has %d", ErrMalformed, i+1, len(p.cols))
		}
		if i == last && end != len(row) {
			return dst, fmt.Errorf("%w: row has more than %d columns", ErrMalformed, len(p.cols))
		}
		if c := &p.cols[i]; c.op != opKeep {
			dst = append(dst, row[run:from]...)
			if p.opts.Format == CopyText {
				dst = p.textField(dst, c, i, row[from:end], true)
			} else {
				dst = p.csvField(dst, c, i, row[from:end], false)
			}
			run = end
		}
		from = end + 1
	}
	if from <= len(row) {
		if n := bytes.Count(row[from:], []byte{d}); n != last-p.lastMasked-1 {
			return dst, fmt.Errorf("%w: row has %d columns, plan has %d", ErrMalformed, p.lastMasked+2+n, len(p.cols))
		}
	}
	return append(dst, row[run:]...), nil
}

// noColumns checks the line of a plan with no columns: it is empty.
func (p *CopyPlan) noColumns(dst, row []byte) ([]byte, error) {
	if len(row) != 0 {
		return dst, fmt.Errorf("%w: row with data, plan has no columns", ErrMalformed)
	}
	return dst, nil
}

// encode appends the masked value v (null: SQL NULL) encoded for the text
// or csv format; binary values are appended as they are.
func (p *CopyPlan) encode(dst, v []byte, null bool) []byte {
	switch {
	case p.opts.Format == CopyBinary:
		return append(dst, v...)
	case null:
		return append(dst, p.null...)
	case p.opts.Format == CopyText:
		start := len(dst)
		dst = appendTextEscaped(dst, v, p.opts.Delimiter)
		if string(dst[start:]) == p.null {
			dst = escapeOneLiteral(dst, start)
		}
		return dst
	}
	return p.appendCSVValue(dst, v)
}

// maskDecoded appends the masked, encoded form of the decoded non-NULL
// value v of column c. The value is masked straight into dst and encoded
// again only when it holds a byte that needs it.
func (p *CopyPlan) maskDecoded(dst []byte, c *colPlan, v []byte) []byte {
	start := len(dst)
	dst, null := p.m.appendValue(dst, c, v)
	if null {
		return append(dst, p.null...)
	}
	if !p.needsEncoding(dst[start:]) {
		return dst
	}
	p.out = append(p.out[:0], dst[start:]...)
	return p.encode(dst[:start], p.out, false)
}

// needsEncoding reports whether the text or csv value v must be escaped
// or quoted.
func (p *CopyPlan) needsEncoding(v []byte) bool {
	if string(v) == p.null || p.opts.Format == CopyCSV && len(p.cols) == 1 && string(v) == endMarker {
		return true
	}
	for _, ch := range v {
		if p.special[ch] {
			return true
		}
	}
	return false
}
