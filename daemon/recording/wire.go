package recording

import (
	"bytes"
	"encoding/binary"
	"strconv"
	"unsafe"
)

// stringBytes views s as bytes without copying; they must not be written.
func stringBytes(s string) []byte {
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

// RowDescription records the columns of statement n's result from a
// RowDescription message body (without the 5-byte header): names and
// format codes. Later DataRow calls for n without formats use them.
func (s *Session) RowDescription(n uint64, body []byte) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.lineOK() {
		return
	}
	mark := len(s.buf)
	s.descOK = false
	s.descFormats = s.descFormats[:0]
	b := s.linePrefix("columns", n, false)
	b = append(b, `,"names":[`...)
	ok := len(body) >= 2
	var count int
	if ok {
		count = int(int16(binary.BigEndian.Uint16(body)))
		ok = count >= 0
	}
	pos := 2
	for i := 0; ok && i < count; i++ {
		end := bytes.IndexByte(body[pos:], 0)
		// name, NUL, table OID, attnum, type OID, typlen, typmod, format
		if end < 0 || len(body)-pos-end-1 < 18 {
			ok = false
			break
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, bytesString(body[pos:pos+end]))
		pos += end + 1 + 16
		s.descFormats = append(s.descFormats, int16(binary.BigEndian.Uint16(body[pos:])))
		pos += 2
	}
	if !ok {
		s.buf = b[:mark]
		s.descFormats = s.descFormats[:0]
		s.linesDropped++
		return
	}
	b = append(b, `],"formats":[`...)
	for i, f := range s.descFormats {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, int64(f), 10)
	}
	s.buf = append(b, "]}\n"...)
	s.desc, s.descOK = n, true
	s.endLine(mark)
}

// DataRow records one row of statement n from a DataRow message body
// (without the 5-byte header), after masking. formats are the result
// format codes as in Bind (none: text, one: every column, else one per
// column); nil means those of the last RowDescription for n, else text.
func (s *Session) DataRow(n uint64, body []byte, formats []int16) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.rowOK(n) {
		return
	}
	if formats == nil && s.descOK && s.desc == n {
		formats = s.descFormats
	}
	mark := len(s.buf)
	if s.maxValue < 0 && int64(len(body)) > 2*(s.rowLimit-s.size) {
		// Values are not cut and this row cannot fit: do not encode it.
		s.rowTooBig()
		return
	}
	b := s.linePrefix("row", n, false)
	b = append(b, `,"v":[`...)
	ok := len(body) >= 2
	var count int
	if ok {
		count = int(int16(binary.BigEndian.Uint16(body)))
		ok = count >= 0
	}
	pos := 2
	for i := 0; ok && i < count; i++ {
		if len(body)-pos < 4 {
			ok = false
			break
		}
		l := int64(int32(binary.BigEndian.Uint32(body[pos:])))
		pos += 4
		if i > 0 {
			b = append(b, ',')
		}
		switch {
		case l == -1:
			b = appendValue(b, nil, true, 0, 0)
		case l < 0 || l > int64(len(body)-pos):
			ok = false
		default:
			b = appendValue(b, body[pos:pos+int(l)], false, formatOf(formats, i), s.maxValue)
			pos += int(l)
		}
	}
	if !ok || pos != len(body) {
		s.buf = b
		s.dropRow(mark)
		return
	}
	s.buf = append(b, "]}\n"...)
	s.endRow(mark)
}
