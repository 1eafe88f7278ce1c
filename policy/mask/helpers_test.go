package mask

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/jackc/pgx/v5/pgtype"
)

// testKey is the Hash key of the tests.
var testKey = []byte("0123456789abcdef0123456789abcdef")

func mustHasher(tb testing.TB, key []byte) *Hasher {
	tb.Helper()
	h, err := NewHasher(key)
	if err != nil {
		tb.Fatalf("NewHasher: %v", err)
	}
	return h
}

func mustPlan(tb testing.TB, cols []Column, h *Hasher) *Plan {
	tb.Helper()
	p, err := NewPlan(cols, h)
	if err != nil {
		tb.Fatalf("NewPlan: %v", err)
	}
	return p
}

func mustCopyPlan(tb testing.TB, opts CopyOptions, cols []Column, h *Hasher) *CopyPlan {
	tb.Helper()
	p, err := NewCopyPlan(opts, cols, h)
	if err != nil {
		tb.Fatalf("NewCopyPlan: %v", err)
	}
	return p
}

// dataRow returns a DataRow body holding vals; a nil value is NULL.
func dataRow(vals ...[]byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(len(vals)))
	for _, v := range vals {
		if v == nil {
			b = binary.BigEndian.AppendUint32(b, 0xffffffff)
			continue
		}
		b = binary.BigEndian.AppendUint32(b, uint32(len(v)))
		b = append(b, v...)
	}
	return b
}

// parseDataRow checks that msg is exactly one well-formed DataRow message
// and returns its values (nil for NULL, non-nil empty for "").
func parseDataRow(tb testing.TB, msg []byte) [][]byte {
	tb.Helper()
	if len(msg) < 7 || msg[0] != 'D' {
		tb.Fatalf("not a DataRow message: %q", msg)
	}
	if n := int(binary.BigEndian.Uint32(msg[1:])); n != len(msg)-1 {
		tb.Fatalf("DataRow length %d, message has %d bytes after the type", n, len(msg)-1)
	}
	vals, ok := splitDataRow(msg[5:])
	if !ok {
		tb.Fatalf("malformed DataRow body %q", msg[5:])
	}
	return vals
}

// splitDataRow parses a DataRow body.
func splitDataRow(body []byte) ([][]byte, bool) {
	if len(body) < 2 {
		return nil, false
	}
	n := int(int16(binary.BigEndian.Uint16(body)))
	if n < 0 {
		return nil, false
	}
	vals := make([][]byte, 0, n)
	pos := 2
	for range n {
		if len(body)-pos < 4 {
			return nil, false
		}
		l := int32(binary.BigEndian.Uint32(body[pos:]))
		pos += 4
		switch {
		case l == -1:
			vals = append(vals, nil)
		case l < 0 || int(l) > len(body)-pos:
			return nil, false
		default:
			vals = append(vals, append([]byte{}, body[pos:pos+int(l)]...))
			pos += int(l)
		}
	}
	return vals, pos == len(body)
}

// maskValue masks v (nil: NULL) as the single column c of a DataRow.
func maskValue(tb testing.TB, c Column, h *Hasher, v []byte) []byte {
	tb.Helper()
	p := mustPlan(tb, []Column{c}, h)
	out, err := p.AppendDataRow(nil, dataRow(v))
	if err != nil {
		tb.Fatalf("AppendDataRow(%+v, %q): %v", c, v, err)
	}
	return parseDataRow(tb, out)[0]
}

// splitCopyData checks that out is a sequence of CopyData messages and
// returns their payloads.
func splitCopyData(tb testing.TB, out []byte) [][]byte {
	tb.Helper()
	var msgs [][]byte
	for len(out) > 0 {
		if len(out) < 5 || out[0] != 'd' {
			tb.Fatalf("not a CopyData message: %q", out)
		}
		n := int(binary.BigEndian.Uint32(out[1:]))
		if n < 4 || n > len(out)-1 {
			tb.Fatalf("CopyData length %d with %d bytes left", n, len(out)-1)
		}
		msgs = append(msgs, out[5:1+n])
		out = out[1+n:]
	}
	return msgs
}

// copyThrough feeds msgs through p and returns the concatenated payloads of
// the messages it writes.
func copyThrough(tb testing.TB, p *CopyPlan, msgs ...[]byte) []byte {
	tb.Helper()
	var out []byte
	for _, m := range msgs {
		var err error
		if out, err = p.AppendCopyData(out, m); err != nil {
			tb.Fatalf("AppendCopyData(%q): %v", m, err)
		}
	}
	if err := p.Finish(); err != nil {
		tb.Fatalf("Finish: %v", err)
	}
	return bytes.Join(splitCopyData(tb, out), nil)
}

// decode checks that pgtype reads v as a value of type oid in format.
func decode(tb testing.TB, m *pgtype.Map, oid uint32, format int16, v []byte) any {
	tb.Helper()
	var x any
	if err := m.Scan(oid, format, v, &x); err != nil {
		tb.Fatalf("pgtype scan of oid %d format %d %q: %v", oid, format, v, err)
	}
	return x
}
