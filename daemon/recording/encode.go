package recording

import (
	"encoding/base64"
	"strconv"
	"time"
	"unicode/utf8"
	"unsafe"
)

const hexDigits = "0123456789abcdef"

// plain[c] is true for the ASCII bytes a JSON string holds unescaped.
var plain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// appendString appends s as a JSON string; invalid UTF-8 bytes become
// U+FFFD. Control characters, quote, backslash and U+2028/U+2029 are
// escaped.
func appendString(dst []byte, s string) []byte {
	dst, _ = appendJSONString(dst, s, true)
	return dst
}

// appendJSONString appends s as a JSON string. With lossy false it stops
// and reports false at the first invalid UTF-8 byte (dst is then partly
// written: the caller rolls it back).
func appendJSONString(dst []byte, s string, lossy bool) ([]byte, bool) {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if plain[c] {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			if !lossy {
				return dst, false
			}
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"'), true
}

// bytesString views b as a string without copying; the string must not
// outlive b's contents.
func bytesString(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// cutUTF8 cuts s to at most max bytes, on a rune boundary when s is text.
func cutUTF8(s []byte, max int) []byte {
	if max < 0 || len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && cut > max-utf8.UTFMax && !utf8.RuneStart(s[cut]) {
		cut--
	}
	if !utf8.RuneStart(s[cut]) {
		cut = max // not UTF-8 anyway
	}
	return s[:cut]
}

// appendValue appends one column value: null; a JSON string for a complete
// text-format value that is valid UTF-8; otherwise an object with "text" or
// "base64", "format":"text" for a text value that is not UTF-8, and "len"
// (the original length) when the value was cut to max bytes.
func appendValue(dst []byte, v []byte, null bool, format int16, max int) []byte {
	if null {
		return append(dst, "null"...)
	}
	full := len(v)
	return appendData(dst, cutUTF8(v, max), format, full)
}

// appendData appends a non-NULL value v whose original length was full.
func appendData(dst []byte, v []byte, format int16, full int) []byte {
	cut := len(v) < full
	if format == 0 {
		mark := len(dst)
		if cut {
			dst = append(dst, `{"text":`...)
		}
		var ok bool
		if dst, ok = appendJSONString(dst, bytesString(v), false); ok {
			if cut {
				dst = append(dst, `,"len":`...)
				dst = strconv.AppendInt(dst, int64(full), 10)
				dst = append(dst, '}')
			}
			return dst
		}
		dst = dst[:mark]
	}
	dst = append(dst, `{"base64":"`...)
	dst = base64.StdEncoding.AppendEncode(dst, v)
	dst = append(dst, '"')
	if format == 0 {
		dst = append(dst, `,"format":"text"`...)
	}
	if cut {
		dst = append(dst, `,"len":`...)
		dst = strconv.AppendInt(dst, int64(full), 10)
	}
	return append(dst, '}')
}

// appendTime appends t as an RFC 3339 UTC string.
func appendTime(dst []byte, t time.Time) []byte {
	dst = append(dst, '"')
	dst = t.UTC().AppendFormat(dst, time.RFC3339Nano)
	return append(dst, '"')
}

// formatOf is the format of column i under the Bind convention: none means
// text, one applies to every column, else one per column.
func formatOf(formats []int16, i int) int16 {
	switch {
	case len(formats) == 0:
		return 0
	case len(formats) == 1:
		return formats[0]
	case i < len(formats):
		return formats[i]
	}
	return 0
}
