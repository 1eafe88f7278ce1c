package mask

import (
	"bytes"
	"fmt"
)

// csvSpan is one raw field of a csv row: data[start:end].
type csvSpan struct {
	start, end int
	quoted     bool
}

// csvRows masks the complete rows in data and returns how many bytes they
// took. A row ends at a newline outside quotes.
func (p *CopyPlan) csvRows(dst, data []byte) ([]byte, int, error) {
	pos := 0
	for pos < len(data) {
		if p.done {
			return dst, 0, fmt.Errorf("%w: data after the end marker", ErrMalformed)
		}
		plain := false
		end := bytes.IndexByte(data[pos:], '\n')
		if end >= 0 {
			end += pos
			plain = bytes.IndexByte(data[pos:end], p.opts.Quote) < 0
		}
		if !plain {
			var ok bool
			if end, ok = p.csvSplit(data, pos); !ok {
				break
			}
		}
		row := data[pos:end]
		switch {
		case p.header:
			p.header = false
			dst = append(dst, row...)
		case string(row) == endMarker:
			p.done = true
			dst = append(dst, row...)
		default:
			var err error
			if plain {
				dst, err = p.plainRow(dst, row)
			} else {
				dst, err = p.csvRow(dst, data, pos, end)
			}
			if err != nil {
				return dst, 0, err
			}
			p.rows++
		}
		dst = append(dst, '\n')
		pos = end + 1
	}
	return dst, pos, nil
}

// csvSplit finds the fields of the row starting at pos, into p.spans, and
// the index of its newline; ok is false when the row is not complete.
// Quotes start and end quoted parts anywhere in a field, and inside quotes
// the escape character makes a following quote or escape literal, as
// PostgreSQL reads csv.
func (p *CopyPlan) csvSplit(data []byte, pos int) (int, bool) {
	q := p.opts.Quote
	p.spans = p.spans[:0]
	start, quoted := pos, false
	for i := pos; i < len(data); {
		ch := data[i]
		if !p.special[ch] || ch == '\r' {
			i++
			continue
		}
		if ch == q {
			quoted = true
			end, ok := p.quotedEnd(data, i+1)
			if !ok {
				return 0, false
			}
			i = end
			continue
		}
		p.spans = append(p.spans, csvSpan{start: start, end: i, quoted: quoted})
		if ch == '\n' {
			return i, true
		}
		start, quoted = i+1, false
		i++
	}
	return 0, false
}

// quotedEnd returns the index after the quote closing the quoted part that
// starts at data[i]; ok is false when data ends first.
func (p *CopyPlan) quotedEnd(data []byte, i int) (int, bool) {
	q, e := p.opts.Quote, p.opts.Escape
	for {
		j := bytes.IndexByte(data[i:], q)
		if e != q {
			if k := bytes.IndexByte(data[i:], e); k >= 0 && (j < 0 || k < j) {
				j = k
			}
		}
		if j < 0 {
			return 0, false
		}
		i += j
		if data[i] == e {
			if i+1 == len(data) {
				return 0, false // cannot tell yet whether it escapes
			}
			if next := data[i+1]; next == e || next == q {
				i += 2
				continue
			}
			if e != q {
				i++ // a lone escape is literal
				continue
			}
		}
		return i + 1, true
	}
}

// csvRow masks the row data[pos:end] split into p.spans.
func (p *CopyPlan) csvRow(dst, data []byte, pos, end int) ([]byte, error) {
	n := len(p.spans)
	if len(p.cols) == 0 && end == pos {
		n = 0 // a row of no columns is an empty line
	}
	if n != len(p.cols) {
		return dst, fmt.Errorf("%w: csv row has %d columns, plan has %d", ErrMalformed, n, len(p.cols))
	}
	run := pos
	for i := range p.cols {
		c := &p.cols[i]
		if c.op == opKeep {
			continue
		}
		s := p.spans[i]
		dst = append(dst, data[run:s.start]...)
		dst = p.csvField(dst, c, i, data[s.start:s.end], s.quoted)
		run = s.end
	}
	return append(dst, data[run:end]...), nil
}

// csvField appends the masked form of one raw field of column i.
func (p *CopyPlan) csvField(dst []byte, c *colPlan, i int, raw []byte, quoted bool) []byte {
	if !quoted && string(raw) == p.null {
		return append(dst, raw...)
	}
	if c.op == opConst {
		return append(dst, p.enc[i]...)
	}
	v := raw
	if quoted {
		p.field = p.unquoteCSV(p.field[:0], raw)
		v = p.field
	}
	return p.maskDecoded(dst, c, v)
}

// unquoteCSV appends the value of a raw csv field that has quotes.
func (p *CopyPlan) unquoteCSV(dst, raw []byte) []byte {
	q, e := p.opts.Quote, p.opts.Escape
	inQuote := false
	for i := 0; i < len(raw); i++ {
		ch := raw[i]
		switch {
		case !inQuote && ch == q:
			inQuote = true
		case inQuote && ch == e && i+1 < len(raw) && (raw[i+1] == e || raw[i+1] == q):
			i++
			dst = append(dst, raw[i])
		case inQuote && ch == q:
			inQuote = false
		default:
			dst = append(dst, ch)
		}
	}
	return dst
}

// appendCSVValue appends v as COPY's csv format writes it: quoted when it
// equals the null string, holds the delimiter, quote or a newline, or is
// the end marker alone on a line; inside quotes the quote and escape
// characters get the escape character.
func (p *CopyPlan) appendCSVValue(dst, v []byte) []byte {
	q, e := p.opts.Quote, p.opts.Escape
	if !p.needsEncoding(v) {
		return append(dst, v...)
	}
	dst = append(dst, q)
	for _, ch := range v {
		if ch == q || ch == e {
			dst = append(dst, e)
		}
		dst = append(dst, ch)
	}
	return append(dst, q)
}
