package recording

import (
	"encoding/base64"
	"strconv"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/interlock-dev/interlock/daemon/jsonstr"
)

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string; invalid UTF-8 bytes become
// U+FFFD. Control characters, quote, backslash and U+2028/U+2029 are
// escaped.
func appendString(dst []byte, s string) []byte { return jsonstr.Append(dst, s) }

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
		if dst, ok = jsonstr.AppendValid(dst, bytesString(v)); ok {
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
