package mask

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"hash"
)

// MinKeyLen is the shortest Hash key NewHasher accepts.
const MinKeyLen = 16

// Hasher holds the key of the Hash strategy. It is immutable and safe for
// concurrent use; each Plan and CopyPlan that hashes makes its own HMAC
// state from it once, and reuses it for every value.
type Hasher struct {
	key []byte
}

// NewHasher returns a Hasher for key, which it copies. The key must be at
// least MinKeyLen bytes; the same key gives the same hashes, so that
// masked columns can still be joined across result sets and sessions.
func NewHasher(key []byte) (*Hasher, error) {
	if len(key) < MinKeyLen {
		return nil, errors.New("new hasher: key shorter than 16 bytes")
	}
	return &Hasher{key: append([]byte(nil), key...)}, nil
}

// newMAC returns a fresh HMAC-SHA256 state for the key.
func (h *Hasher) newMAC() hash.Hash { return hmac.New(sha256.New, h.key) }

// appendHash appends the keyed hash of v in c's type, or the redacted
// value when v cannot be read.
func (m *masker) appendHash(dst []byte, c *colPlan, v []byte) ([]byte, bool) {
	in, ok := m.hashInput(c, v)
	if !ok {
		return c.appendRedacted(dst)
	}
	m.mac.Reset()
	m.mac.Write(in)
	sum := m.mac.Sum(m.sum[:0])
	start := len(dst)
	switch c.kind {
	case kindText, kindBPChar:
		dst = c.appendHashText(dst, sum)
		return c.fit(dst, start), false
	case kindJSON, kindJSONB:
		if c.kind == kindJSONB && c.binary {
			dst = append(dst, 1)
		}
		dst = append(dst, '"')
		dst = c.appendHashText(dst, sum)
		return append(dst, '"'), false
	case kindUUID:
		if c.binary {
			return append(dst, sum[:16]...), false
		}
		return appendUUIDText(dst, sum[:16]), false
	case kindBytea:
		if c.binary {
			return append(dst, sum...), false
		}
		return hex.AppendEncode(append(dst, `\x`...), sum), false
	}
	return c.appendRedacted(dst)
}

// appendHashText appends the first c.hashLen characters of sum in c's
// encoding.
func (c *colPlan) appendHashText(dst, sum []byte) []byte {
	start := len(dst)
	if c.hashEnc == HashBase64 {
		dst = base64.RawURLEncoding.AppendEncode(dst, sum)
	} else {
		dst = hex.AppendEncode(dst, sum)
	}
	return dst[:start+c.hashLen]
}

// hashInput returns the bytes hashed for v: its text form, except bytea
// (its raw bytes), so that both formats give the same hash.
func (m *masker) hashInput(c *colPlan, v []byte) ([]byte, bool) {
	switch c.kind {
	case kindBPChar:
		return trimSpaces(v), true
	case kindJSONB:
		if !c.binary {
			return v, true
		}
		if len(v) == 0 || v[0] != 1 {
			return nil, false
		}
		return v[1:], true
	case kindUUID:
		if !c.binary {
			return v, true
		}
		if len(v) != 16 {
			return nil, false
		}
		return appendUUIDText(m.uuid[:0], v), true
	case kindBytea:
		if c.binary {
			return v, true
		}
		var ok bool
		m.scratch, ok = decodeByteaText(m.scratch[:0], v)
		return m.scratch, ok
	}
	return v, true
}

// appendUUIDText appends the canonical text form of the 16-byte u.
func appendUUIDText(dst, u []byte) []byte {
	dst = hex.AppendEncode(dst, u[0:4])
	dst = append(dst, '-')
	dst = hex.AppendEncode(dst, u[4:6])
	dst = append(dst, '-')
	dst = hex.AppendEncode(dst, u[6:8])
	dst = append(dst, '-')
	dst = hex.AppendEncode(dst, u[8:10])
	dst = append(dst, '-')
	return hex.AppendEncode(dst, u[10:16])
}

// decodeByteaText appends the bytes of a bytea in text format, hex
// ("\x...") or escape, to dst.
func decodeByteaText(dst, v []byte) ([]byte, bool) {
	if len(v) >= 2 && v[0] == '\\' && v[1] == 'x' {
		out, err := hex.AppendDecode(dst, v[2:])
		return out, err == nil
	}
	for i := 0; i < len(v); i++ {
		ch := v[i]
		if ch != '\\' {
			dst = append(dst, ch)
			continue
		}
		switch {
		case i+1 < len(v) && v[i+1] == '\\':
			dst = append(dst, '\\')
			i++
		case i+3 < len(v) && isOctal(v[i+1]) && isOctal(v[i+2]) && isOctal(v[i+3]) && v[i+1] <= '3':
			dst = append(dst, (v[i+1]-'0')<<6|(v[i+2]-'0')<<3|(v[i+3]-'0'))
			i += 3
		default:
			return dst, false
		}
	}
	return dst, true
}

func isOctal(ch byte) bool { return ch >= '0' && ch <= '7' }
