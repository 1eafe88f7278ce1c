package mask

import (
	"encoding/binary"
	"fmt"
)

// binarySignature starts a binary COPY stream; the flags and the header
// extension length follow it.
const binarySignature = "PGCOPY\n\xff\r\n\x00"

// binaryHeaderLen is the signature, the int32 flags and the int32
// extension length.
const binaryHeaderLen = len(binarySignature) + 8

// binaryRows masks the header and complete tuples in data and returns how
// many bytes they took.
func (p *CopyPlan) binaryRows(dst, data []byte) ([]byte, int, error) {
	pos := 0
	if p.header {
		if len(data) < binaryHeaderLen {
			return dst, 0, nil
		}
		if string(data[:len(binarySignature)]) != binarySignature {
			return dst, 0, fmt.Errorf("%w: no binary copy signature", ErrMalformed)
		}
		// Bits 16-31 flag critical format changes (bit 16: OIDs included).
		if flags := binary.BigEndian.Uint32(data[11:]); flags>>16 != 0 {
			return dst, 0, fmt.Errorf("%w: binary copy flags %#x", ErrMalformed, flags)
		}
		ext := int64(int32(binary.BigEndian.Uint32(data[15:])))
		if ext < 0 {
			return dst, 0, fmt.Errorf("%w: binary copy header extension length %d", ErrMalformed, ext)
		}
		if int64(len(data)) < int64(binaryHeaderLen)+ext {
			return dst, 0, nil
		}
		pos = binaryHeaderLen + int(ext)
		dst = append(dst, data[:pos]...)
		p.header = false
	}
	for pos < len(data) {
		if p.done {
			return dst, 0, fmt.Errorf("%w: data after the binary trailer", ErrMalformed)
		}
		if len(data)-pos < 2 {
			break
		}
		n := int(int16(binary.BigEndian.Uint16(data[pos:])))
		if n == -1 {
			p.done = true
			dst = append(dst, data[pos:pos+2]...)
			pos += 2
			continue
		}
		if n != len(p.cols) {
			return dst, 0, fmt.Errorf("%w: binary tuple has %d columns, plan has %d", ErrMalformed, n, len(p.cols))
		}
		end, next, err := p.binaryTuple(dst, data, pos)
		if err != nil {
			return dst, 0, err
		}
		if end < 0 {
			break
		}
		dst, pos = next, end
		p.rows++
	}
	return dst, pos, nil
}

// binaryTuple masks the tuple at data[pos:] and returns its end and the
// new dst; end is -1 when the tuple is not complete.
func (p *CopyPlan) binaryTuple(dst, data []byte, pos int) (int, []byte, error) {
	start := len(dst)
	run := pos
	pos += 2
	for i := range p.cols {
		if len(data)-pos < 4 {
			return -1, dst[:start], nil
		}
		n := int32(binary.BigEndian.Uint32(data[pos:]))
		end := pos + 4
		if n >= 0 {
			if int(n) > len(data)-end {
				return -1, dst[:start], nil
			}
			end += int(n)
		} else if n != -1 {
			return 0, dst[:start], fmt.Errorf("%w: binary tuple column %d: length %d", ErrMalformed, i, n)
		}
		c := &p.cols[i]
		if c.op == opKeep {
			pos = end
			continue
		}
		dst = append(dst, data[run:pos]...)
		switch {
		case n == -1:
			dst = append(dst, 0xff, 0xff, 0xff, 0xff)
		case c.op == opConst:
			dst = append(dst, c.wire...)
		default:
			dst = p.m.appendField(dst, c, data[pos+4:end])
		}
		pos, run = end, end
	}
	return pos, append(dst, data[run:pos]...), nil
}
