package mask

import (
	"bytes"
	"fmt"
	"strings"
)

// endMarker is the end-of-data line of the text and csv formats.
const endMarker = `\.`

// textRows masks the complete lines in data and returns how many bytes
// they took.
func (p *CopyPlan) textRows(dst, data []byte) ([]byte, int, error) {
	pos := 0
	for pos < len(data) {
		if p.done {
			return dst, 0, fmt.Errorf("%w: data after the end marker", ErrMalformed)
		}
		nl := bytes.IndexByte(data[pos:], '\n')
		if nl < 0 {
			break
		}
		row := data[pos : pos+nl]
		switch {
		case p.header:
			p.header = false
			dst = append(dst, row...)
		case string(row) == endMarker:
			p.done = true
			dst = append(dst, row...)
		default:
			var err error
			if bytes.IndexByte(row, '\\') < 0 {
				dst, err = p.plainRow(dst, row)
			} else {
				dst, err = p.textRow(dst, row)
			}
			if err != nil {
				return dst, 0, err
			}
			p.rows++
		}
		dst = append(dst, '\n')
		pos += nl + 1
	}
	return dst, pos, nil
}

// textRow masks one line, without its newline, that has backslashes.
func (p *CopyPlan) textRow(dst, row []byte) ([]byte, error) {
	if len(p.cols) == 0 {
		return p.noColumns(dst, row)
	}
	from, run := 0, 0
	last := len(p.cols) - 1
	for i := range p.cols {
		end := p.textFieldEnd(row, from)
		if i < last && end == len(row) {
			return dst, fmt.Errorf("%w: text row has %d columns, plan has %d", ErrMalformed, i+1, len(p.cols))
		}
		if i == last && end != len(row) {
			return dst, fmt.Errorf("%w: text row has more than %d columns", ErrMalformed, len(p.cols))
		}
		if c := &p.cols[i]; c.op != opKeep {
			dst = append(dst, row[run:from]...)
			dst = p.textField(dst, c, i, row[from:end], false)
			run = end
		}
		from = end + 1
	}
	return append(dst, row[run:]...), nil
}

// textFieldEnd returns the index of the delimiter ending the field that
// starts at from, or len(row). A delimiter after an odd run of backslashes
// is escaped.
func (p *CopyPlan) textFieldEnd(row []byte, from int) int {
	d := p.opts.Delimiter
	for i := from; ; {
		j := bytes.IndexByte(row[i:], d)
		if j < 0 {
			return len(row)
		}
		j += i
		k := j
		for k > from && row[k-1] == '\\' {
			k--
		}
		if (j-k)%2 == 0 {
			return j
		}
		i = j + 1
	}
}

// textField appends the masked form of one raw field of column i; plain
// says the field has no backslash.
func (p *CopyPlan) textField(dst []byte, c *colPlan, i int, raw []byte, plain bool) []byte {
	if string(raw) == p.null {
		return append(dst, raw...)
	}
	if c.op == opConst {
		return append(dst, p.enc[i]...)
	}
	v := raw
	if !plain && bytes.IndexByte(raw, '\\') >= 0 {
		p.field = unescapeText(p.field[:0], raw)
		v = p.field
	}
	return p.maskDecoded(dst, c, v)
}

// unescapeText appends the value of a text-format field to dst, undoing
// the backslash escapes COPY accepts.
func unescapeText(dst, raw []byte) []byte {
	for i := 0; i < len(raw); i++ {
		ch := raw[i]
		if ch != '\\' || i+1 == len(raw) {
			dst = append(dst, ch)
			continue
		}
		i++
		ch = raw[i]
		switch ch {
		case 'b':
			ch = '\b'
		case 'f':
			ch = '\f'
		case 'n':
			ch = '\n'
		case 'r':
			ch = '\r'
		case 't':
			ch = '\t'
		case 'v':
			ch = '\v'
		case '0', '1', '2', '3', '4', '5', '6', '7':
			v := ch - '0'
			for n := 0; n < 2 && i+1 < len(raw) && isOctal(raw[i+1]); n++ {
				i++
				v = v<<3 | (raw[i] - '0')
			}
			ch = v
		case 'x':
			if i+1 < len(raw) && isHex(raw[i+1]) {
				i++
				v := unhex(raw[i])
				if i+1 < len(raw) && isHex(raw[i+1]) {
					i++
					v = v<<4 | unhex(raw[i])
				}
				ch = v
			}
		}
		dst = append(dst, ch)
	}
	return dst
}

func isHex(ch byte) bool {
	return ch >= '0' && ch <= '9' || ch >= 'a' && ch <= 'f' || ch >= 'A' && ch <= 'F'
}

func unhex(ch byte) byte {
	switch {
	case ch <= '9':
		return ch - '0'
	case ch <= 'F':
		return ch - 'A' + 10
	}
	return ch - 'a' + 10
}

// appendTextEscaped appends v escaped as COPY's text format writes it:
// backslash, the control characters with a letter escape, and the
// delimiter get a backslash.
func appendTextEscaped(dst, v []byte, delim byte) []byte {
	for _, ch := range v {
		switch ch {
		case '\\':
			dst = append(dst, '\\', '\\')
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\f':
			dst = append(dst, '\\', 'f')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		case '\v':
			dst = append(dst, '\\', 'v')
		case delim:
			dst = append(dst, '\\', ch)
		default:
			dst = append(dst, ch)
		}
	}
	return dst
}

// escapeOneLiteral makes the escaped text value in dst[start:], which
// equals the NULL string, read as a value: it puts a backslash before its
// first character that stands for itself when backslashed. A value with
// none (empty, or only digits and escape letters) stays ambiguous, as it
// is when PostgreSQL writes it.
func escapeOneLiteral(dst []byte, start int) []byte {
	for i := start; i < len(dst); i++ {
		ch := dst[i]
		if ch == '\\' {
			i++ // skip the escaped character
			continue
		}
		if ch < 0x20 || ch >= 0x80 || strings.IndexByte("01234567xbfnrtvN.", ch) >= 0 {
			continue
		}
		dst = append(dst, 0)
		copy(dst[i+1:], dst[i:])
		dst[i] = '\\'
		return dst
	}
	return dst
}
