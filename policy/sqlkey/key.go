package sqlkey

import "strings"

// Placeholders. A placeholder is a NUL byte followed by a class byte. Query
// text never contains NUL (Append refuses it), so a placeholder cannot be
// forged by the text itself.
const (
	placeholder = 0x00
	// ClassString marks a replaced simple string literal ('...').
	ClassString = 's'
	// ClassNumber marks a replaced simple numeric literal (12, 1.5, 2e-3).
	ClassNumber = 'n'
)

// Append appends the cache key of text to dst and reports whether the text is
// cacheable. With ok false, dst's contents are unspecified and the caller must
// analyse the text from scratch. scs is the session's
// standard_conforming_strings. Append does not allocate when dst has room.
//
// The key is text byte for byte (whitespace, comments and identifiers
// included) except that every simple literal is replaced by a NUL byte and
// ClassString or ClassNumber. Anything Append cannot prove to lex exactly as
// PostgreSQL lexes it makes the text uncacheable: escape, Unicode, bit and
// national strings (E'x', U&'x', B'1', X'1', N'x'), dollar quotes, backslashes in
// strings when scs is false, numbers with junk after them, unterminated
// strings, identifiers or comments, adjacent string literals (continuation)
// and NUL bytes.
func Append(dst []byte, text string, scs bool) (key []byte, ok bool) {
	return appendKey(dst, text, scs, nil)
}

// span is a replaced literal: text[start:end], of class class.
type span struct {
	start, end int
	class      byte
}

// appendKey is Append; when spans is not nil it also records each replaced
// literal (for tests).
func appendKey(dst []byte, text string, scs bool, spans *[]span) ([]byte, bool) {
	if strings.IndexByte(text, 0) >= 0 {
		return dst, false
	}
	n := len(text)
	mark := 0 // text[mark:i] is pending verbatim output
	// afterString is true while only whitespace and comments follow a string
	// literal: another quote there could continue it, so it is refused.
	afterString := false
	i := 0
	for i < n {
		c := text[i]
		switch kind[c] {
		case cSpace:
			i++
			for i < n && kind[text[i]] == cSpace {
				i++
			}
		case cIdent:
			j := i + 1
			for j < n && identCont[text[j]] {
				j++
			}
			if j-i == len("uescape") && isUescape(text[i:j]) {
				return dst, false
			}
			i = j
			afterString = false
		case cDigit:
			if i > 0 && (identCont[text[i-1]] || text[i-1] == '.') {
				return dst, false
			}
			j, good := scanNumber(text, i)
			if !good {
				return dst, false
			}
			dst = append(dst, text[mark:i]...)
			dst = append(dst, placeholder, ClassNumber)
			if spans != nil {
				*spans = append(*spans, span{i, j, ClassNumber})
			}
			i, mark = j, j
			afterString = false
		case cQuote:
			// A quote right after an identifier byte is a prefixed
			// string (E'', B'', X'', N'', or U&'' with '&'); right after a
			// number it would make the key depend on whether the number
			// ends in a digit or a dot (1'x' vs 1.'x'). All refused.
			if afterString || (i > 0 && (identCont[text[i-1]] || text[i-1] == '&' || text[i-1] == '.')) {
				return dst, false
			}
			j, good := scanString(text, i+1, scs)
			if !good {
				return dst, false
			}
			dst = append(dst, text[mark:i]...)
			dst = append(dst, placeholder, ClassString)
			if spans != nil {
				*spans = append(*spans, span{i, j, ClassString})
			}
			i, mark = j, j
			afterString = true
		case cDQuote:
			if i > 0 && text[i-1] == '&' {
				return dst, false
			}
			j, good := scanQuotedIdent(text, i+1)
			if !good {
				return dst, false
			}
			i = j
			afterString = false
		case cDash:
			if i+1 < n && text[i+1] == '-' {
				i = skipLineComment(text, i+2)
				continue
			}
			i++
			afterString = false
		case cSlash:
			if i+1 < n && text[i+1] == '*' {
				j, good := skipBlockComment(text, i+2)
				if !good {
					return dst, false
				}
				i = j
				continue
			}
			i++
			afterString = false
		case cDot:
			if i+1 < n && kind[text[i+1]] == cDigit {
				// ".5" is a numeric literal; so is "t.5" (t then .5).
				// Refused rather than modelled.
				return dst, false
			}
			i++
			afterString = false
		case cDollar:
			// $1 is a parameter; anything else ($$, $tag$, a stray $) is a
			// dollar quote or an error: refused.
			j := i + 1
			for j < n && kind[text[j]] == cDigit {
				j++
			}
			if j == i+1 || (j < n && (identCont[text[j]] || text[j] == '.')) {
				return dst, false
			}
			i = j
			afterString = false
		default:
			i++
			for i < n && kind[text[i]] == cOther {
				i++
			}
			afterString = false
		}
	}
	dst = append(dst, text[mark:]...)
	return dst, true
}

// scanNumber scans a decimal numeric literal starting at text[i] (a digit):
// digits, an optional fraction and an optional exponent. It fails when the
// literal is followed by a byte that would make PostgreSQL lex it
// differently or reject it: an identifier byte (0x1F, 1_000, 1e, 12abc), a
// digit or a dot (1.2.3, 1..2).
func scanNumber(text string, i int) (int, bool) {
	n := len(text)
	j := i
	for j < n && kind[text[j]] == cDigit {
		j++
	}
	if j < n && text[j] == '.' {
		j++
		for j < n && kind[text[j]] == cDigit {
			j++
		}
	}
	if j < n && (text[j] == 'e' || text[j] == 'E') {
		k := j + 1
		if k < n && (text[k] == '+' || text[k] == '-') {
			k++
		}
		if k >= n || kind[text[k]] != cDigit {
			return j, false
		}
		for k < n && kind[text[k]] == cDigit {
			k++
		}
		j = k
	}
	if j < n && (identCont[text[j]] || text[j] == '.') {
		return j, false
	}
	return j, true
}

// scanString scans the body of a standard string literal whose opening
// quote is at i-1 and returns the index after the closing quote. A
// doubled quote is an escaped quote. Without standard_conforming_strings a backslash is an
// escape character: such strings are refused rather than modelled.
func scanString(text string, i int, scs bool) (int, bool) {
	for {
		q := strings.IndexByte(text[i:], '\'')
		if q < 0 {
			return len(text), false
		}
		if !scs && strings.IndexByte(text[i:i+q], '\\') >= 0 {
			return i, false
		}
		i += q + 1
		if i < len(text) && text[i] == '\'' {
			i++
			continue
		}
		return i, true
	}
}

// scanQuotedIdent scans the body of a delimited identifier whose opening
// quote is at i-1 and returns the index after the closing quote.
func scanQuotedIdent(text string, i int) (int, bool) {
	for {
		q := strings.IndexByte(text[i:], '"')
		if q < 0 {
			return len(text), false
		}
		i += q + 1
		if i < len(text) && text[i] == '"' {
			i++
			continue
		}
		return i, true
	}
}

// skipLineComment returns the index of the newline (\n or \r) that ends the
// comment whose body starts at i, or len(text).
func skipLineComment(text string, i int) int {
	for i < len(text) && text[i] != '\n' && text[i] != '\r' {
		i++
	}
	return i
}

// skipBlockComment skips a C-style comment whose body starts at i and
// returns the index after it. Comments nest, as in PostgreSQL.
func skipBlockComment(text string, i int) (int, bool) {
	n := len(text)
	depth := 0
	for i < n {
		switch text[i] {
		case '*':
			if i+1 < n && text[i+1] == '/' {
				if depth == 0 {
					return i + 2, true
				}
				depth--
				i += 2
				continue
			}
		case '/':
			if i+1 < n && text[i+1] == '*' {
				depth++
				i += 2
				continue
			}
		}
		i++
	}
	return i, false
}

// isUescape reports whether s (7 bytes) is "uescape" in any case.
func isUescape(s string) bool {
	const want = "uescape"
	for k := 0; k < len(want); k++ {
		if s[k]|0x20 != want[k] {
			return false
		}
	}
	return true
}
