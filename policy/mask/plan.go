package mask

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Errors returned by the rewriters. A rewriter that returns an error has
// appended nothing.
var (
	// ErrMalformed reports input that is not a well-formed message body or
	// COPY stream for the plan.
	ErrMalformed = errors.New("malformed")
	// ErrTooLarge reports a masked message over the protocol's limit or a
	// buffered COPY row over CopyOptions.MaxRow.
	ErrTooLarge = errors.New("too large")

	errNoHasher = errors.New("hash strategy without a hasher")
)

// Plan rewrites the DataRow messages of one result set. Build it once per
// RowDescription with NewPlan; a Plan is not safe for concurrent use.
type Plan struct {
	// maskIdx are the indexes of the masked columns, in order.
	maskIdx []int
	cols    []colPlan
	m       masker
}

// NewPlan compiles cols, one per RowDescription field in order, into a
// Plan. h supplies the Hash key and may be nil when no column hashes.
func NewPlan(cols []Column, h *Hasher) (*Plan, error) {
	if len(cols) > math.MaxInt16 {
		return nil, fmt.Errorf("new mask plan: %d columns", len(cols))
	}
	p := &Plan{cols: make([]colPlan, len(cols))}
	for i, c := range cols {
		if c.Format != 0 && c.Format != 1 {
			return nil, fmt.Errorf("new mask plan: column %d: format code %d", i, c.Format)
		}
		cp, err := compile(c, c.Format == 1)
		if err != nil {
			return nil, fmt.Errorf("new mask plan: column %d: %w", i, err)
		}
		if cp.op != opKeep {
			p.maskIdx = append(p.maskIdx, i)
		}
		p.cols[i] = cp
	}
	var err error
	if p.m, err = newMasker(p.cols, h); err != nil {
		return nil, fmt.Errorf("new mask plan: %w", err)
	}
	return p, nil
}

// Masks reports whether the plan changes any column. When it does not,
// rows can be forwarded without calling AppendDataRow.
func (p *Plan) Masks() bool { return len(p.maskIdx) > 0 }

// Columns is the number of columns the plan expects in each row.
func (p *Plan) Columns() int { return len(p.cols) }

// AppendDataRow rewrites one DataRow message body (the bytes after the
// type byte and length: int16 column count, then per column an int32
// length, -1 for NULL, and the value) and appends the complete masked
// message, type 'D' and length included, to dst. Kept columns are copied
// as they are. On error dst is returned unchanged in length.
func (p *Plan) AppendDataRow(dst, body []byte) ([]byte, error) {
	if len(body) < 2 || int(int16(binary.BigEndian.Uint16(body))) != len(p.cols) {
		return dst, p.malformed(body)
	}
	start := len(dst)
	dst = append(dst, 'D', 0, 0, 0, 0)
	pos, run, i := 2, 0, 0 // run: start of the kept bytes not yet copied
	var ok bool
	for _, mi := range p.maskIdx {
		if pos, ok = walkFields(body, pos, mi-i); !ok || len(body)-pos < 4 {
			return dst[:start], p.malformed(body)
		}
		n := binary.BigEndian.Uint32(body[pos:])
		end := pos + 4
		switch {
		case int(n) <= len(body)-end:
			end += int(n)
		case n != 0xffffffff:
			return dst[:start], p.malformed(body)
		}
		dst = append(dst, body[run:pos]...)
		c := &p.cols[mi]
		switch {
		case n == 0xffffffff:
			dst = append(dst, 0xff, 0xff, 0xff, 0xff)
		case c.op == opConst:
			dst = append(dst, c.wire...)
		default:
			dst = p.m.appendField(dst, c, body[pos+4:end])
		}
		pos, run, i = end, end, mi+1
	}
	if pos, ok = walkFields(body, pos, len(p.cols)-i); !ok || pos != len(body) {
		return dst[:start], p.malformed(body)
	}
	dst = append(dst, body[run:]...)
	size := len(dst) - start - 1
	if size > math.MaxInt32 {
		return dst[:start], fmt.Errorf("mask data row: %w: %d bytes", ErrTooLarge, size)
	}
	binary.BigEndian.PutUint32(dst[start+1:], uint32(size))
	return dst, nil
}

// walkFields skips n fields (int32 length, -1 for NULL, and the bytes) of
// body from pos and returns where they end; ok is false when they do not
// fit in body.
func walkFields(body []byte, pos, n int) (int, bool) {
	for ; n > 0; n-- {
		if len(body)-pos < 4 {
			return pos, false
		}
		l := binary.BigEndian.Uint32(body[pos:])
		pos += 4
		if int(l) <= len(body)-pos {
			pos += int(l)
		} else if l != 0xffffffff {
			return pos, false
		}
	}
	return pos, true
}

// malformed describes what is wrong with a DataRow body the plan refused.
func (p *Plan) malformed(body []byte) error {
	if len(body) < 2 {
		return fmt.Errorf("mask data row: %w: %d-byte body", ErrMalformed, len(body))
	}
	if n := int(int16(binary.BigEndian.Uint16(body))); n != len(p.cols) {
		return fmt.Errorf("mask data row: %w: %d columns, plan has %d", ErrMalformed, n, len(p.cols))
	}
	pos := 2
	for i := range p.cols {
		next, ok := walkFields(body, pos, 1)
		if !ok {
			return fmt.Errorf("mask data row: %w: column %d: bad length at byte %d", ErrMalformed, i, pos)
		}
		pos = next
	}
	return fmt.Errorf("mask data row: %w: %d bytes after the last column", ErrMalformed, len(body)-pos)
}

// appendField appends the masked v as a DataRow or binary COPY field: an
// int32 length (-1 for NULL) and the bytes.
func (m *masker) appendField(dst []byte, c *colPlan, v []byte) []byte {
	at := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	dst, null := m.appendValue(dst, c, v)
	if null {
		binary.BigEndian.PutUint32(dst[at:], 0xffffffff)
		return dst[:at+4]
	}
	binary.BigEndian.PutUint32(dst[at:], uint32(len(dst)-at-4))
	return dst
}
