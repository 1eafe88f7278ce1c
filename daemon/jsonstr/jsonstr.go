package jsonstr

import "unicode/utf8"

const hexDigits = "0123456789abcdef"

// plain[c] is true for the ASCII bytes a JSON string holds unescaped.
var plain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// Append appends s as a JSON string. Invalid UTF-8 bytes become U+FFFD;
// control characters, quote and backslash are escaped, and so are
// U+2028/U+2029 so that lines stay safe for JavaScript consumers.
func Append(dst []byte, s string) []byte {
	dst, _ = appendString(dst, s, true)
	return dst
}

// AppendValid is Append for text that must be valid UTF-8: at the first
// invalid byte it stops and reports false (dst is then partly written; the
// caller rolls it back).
func AppendValid(dst []byte, s string) ([]byte, bool) {
	return appendString(dst, s, false)
}

func appendString(dst []byte, s string, lossy bool) ([]byte, bool) {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if plain[s[i]] {
			i++
			for i < len(s) && plain[s[i]] {
				i++
			}
			continue
		}
		c := s[i]
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
