package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strconv"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/interlock-dev/interlock/daemon/jsonstr"
)

// Errors reported by Write and Defer for a malformed Body.
var (
	// ErrEmptyBody means the Body was never Reset with a record type.
	ErrEmptyBody = errors.New("audit: body has no record type (call Reset)")
	// ErrReservedKey means a field used a key the Log writes itself
	// (seq, time, prev) or a second "type".
	ErrReservedKey = errors.New("audit: body uses a reserved key (seq, time, prev, type)")
	// ErrRawJSON means Raw was given a value that is not valid JSON.
	ErrRawJSON = errors.New("audit: raw value is not valid JSON")
)

// Body is the caller's part of one audit record: the "type" field followed by
// any number of fields, already encoded as JSON object members. Build it with
// Reset and the append-style methods; reuse it (one per session) so that
// building a record does not allocate once its buffer has grown.
//
// Keys and string values are escaped correctly; invalid UTF-8 bytes become
// U+FFFD, as encoding/json does. Keys are not checked for duplicates, except
// that seq, time, prev and a second type are refused (Write then returns
// ErrReservedKey). The zero Body is empty; Write refuses it.
//
// A Body is not safe for concurrent use. Write and Defer copy it, so it may
// be reset as soon as they return.
type Body struct {
	buf []byte
	err error
}

// Reset empties b and starts a record of the given type (one of the Type
// constants, or a new one documented in docs/audit.md).
func (b *Body) Reset(recordType string) {
	b.buf = append(b.buf[:0], `"type":`...)
	b.buf = appendString(b.buf, recordType)
	b.err = nil
}

// Bytes returns the encoded members (without braces). It aliases b's buffer.
func (b *Body) Bytes() []byte { return b.buf }

// Err reports the first error recorded while building b.
func (b *Body) Err() error { return b.err }

func (b *Body) key(k string) {
	switch k {
	case "seq", "time", "prev", "type":
		if b.err == nil {
			b.err = ErrReservedKey
		}
	}
	b.buf = append(b.buf, ',')
	b.buf = appendString(b.buf, k)
	b.buf = append(b.buf, ':')
}

// Fields is a run of encoded members cut from a Body (Cut), to be appended
// to other Bodies as it is (Fields): members that repeat from record to
// record are encoded once. It is immutable.
type Fields struct {
	buf []byte
	err error
}

// Mark returns the end of the members appended so far, for Cut.
func (b *Body) Mark() int { return len(b.buf) }

// Cut returns a copy of the members appended since mark.
func (b *Body) Cut(mark int) Fields {
	return Fields{buf: bytes.Clone(b.buf[mark:]), err: b.err}
}

// Fields appends members cut from a Body.
func (b *Body) Fields(f Fields) *Body {
	b.buf = append(b.buf, f.buf...)
	if b.err == nil {
		b.err = f.err
	}
	return b
}

// Str appends a string field.
func (b *Body) Str(key, val string) *Body {
	b.key(key)
	b.buf = appendString(b.buf, val)
	return b
}

// StrMax appends a string field cut to at most max bytes (on a UTF-8
// boundary) and reports whether it was cut. The proxy uses it with
// Log.MaxStatementBytes for statement text, next to SHA256 of the full text.
func (b *Body) StrMax(key, val string, max int) (truncated bool) {
	if max >= 0 && len(val) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(val[cut]) {
			cut--
		}
		val, truncated = val[:cut], true
	}
	b.Str(key, val)
	return truncated
}

// Int appends an integer field.
func (b *Body) Int(key string, val int64) *Body {
	b.key(key)
	b.buf = strconv.AppendInt(b.buf, val, 10)
	return b
}

// Uint appends an unsigned integer field.
func (b *Body) Uint(key string, val uint64) *Body {
	b.key(key)
	b.buf = strconv.AppendUint(b.buf, val, 10)
	return b
}

// Bool appends a boolean field.
func (b *Body) Bool(key string, val bool) *Body {
	b.key(key)
	b.buf = strconv.AppendBool(b.buf, val)
	return b
}

// Strs appends an array of strings (an empty or nil slice gives []).
func (b *Body) Strs(key string, vals []string) *Body {
	b.key(key)
	b.buf = append(b.buf, '[')
	for i, v := range vals {
		if i > 0 {
			b.buf = append(b.buf, ',')
		}
		b.buf = appendString(b.buf, v)
	}
	b.buf = append(b.buf, ']')
	return b
}

// Hex appends data as a lowercase hex string.
func (b *Body) Hex(key string, data []byte) *Body {
	b.key(key)
	b.buf = append(b.buf, '"')
	b.buf = hex.AppendEncode(b.buf, data)
	b.buf = append(b.buf, '"')
	return b
}

// SHA256 appends the lowercase hex SHA-256 of data.
func (b *Body) SHA256(key string, data string) *Body {
	// A []byte(data) conversion would copy (and allocate past 32 bytes);
	// Sum256 only reads its input, so hash the string's bytes in place.
	sum := sha256.Sum256(unsafe.Slice(unsafe.StringData(data), len(data)))
	return b.Hex(key, sum[:])
}

// Raw appends a pre-encoded JSON value (object, array, number...). An invalid
// value is not appended and makes Write fail with ErrRawJSON.
func (b *Body) Raw(key string, value []byte) *Body {
	if !json.Valid(value) {
		if b.err == nil {
			b.err = ErrRawJSON
		}
		return b
	}
	b.key(key)
	b.buf = append(b.buf, value...)
	return b
}

// Time appends t as an RFC 3339 string in UTC with nanoseconds.
func (b *Body) Time(key string, t time.Time) *Body {
	b.key(key)
	b.buf = append(b.buf, '"')
	b.buf = t.UTC().AppendFormat(b.buf, time.RFC3339Nano)
	b.buf = append(b.buf, '"')
	return b
}

// Duration appends d as an integer number of nanoseconds; by convention its
// key ends in "_ns".
func (b *Body) Duration(key string, d time.Duration) *Body {
	return b.Int(key, int64(d))
}

// appendString appends s as a JSON string (see jsonstr.Append).
func appendString(dst []byte, s string) []byte { return jsonstr.Append(dst, s) }
