package approval

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
)

// Binding is the SHA-256 that ties an approval to exactly one execution:
// the requester's subject, the endpoint, the database, the statement text
// and the parameters (values, effective format codes, declared types).
// An approval of `DELETE FROM t WHERE id = $1` with $1 = 5 does not cover
// $1 = 6, another database, or another person running the same text.
type Binding [32]byte

// bindingDomain separates binding hashes from any other SHA-256.
const bindingDomain = "interlock approval binding v1\x00"

// BindingOf computes the binding of one execution. Each field is length-
// prefixed, so no two different executions hash alike by shifting bytes
// between fields; formats are normalised to one code per value (a Bind
// with no codes equals one with a 0 per value).
func BindingOf(requester, endpoint, database, statement string, p *Params) Binding {
	h := sha256.New()
	h.Write([]byte(bindingDomain))
	var buf [8]byte
	field := func(s string) {
		binary.BigEndian.PutUint64(buf[:], uint64(len(s)))
		h.Write(buf[:])
		h.Write([]byte(s))
	}
	field(requester)
	field(endpoint)
	field(database)
	field(statement)
	writeParams(h, p, buf[:])
	var b Binding
	h.Sum(b[:0])
	return b
}

func writeParams(h hash.Hash, p *Params, buf []byte) {
	u64 := func(v uint64) {
		binary.BigEndian.PutUint64(buf, v)
		h.Write(buf)
	}
	if p == nil {
		h.Write([]byte{0}) // simple query: no Bind at all
		return
	}
	h.Write([]byte{1})
	u64(uint64(len(p.Values)))
	for i, v := range p.Values {
		u64(uint64(uint16(p.Format(i))))
		if v == nil {
			h.Write([]byte{0})
			continue
		}
		h.Write([]byte{1})
		u64(uint64(len(v)))
		h.Write(v)
	}
	u64(uint64(len(p.Types)))
	for _, t := range p.Types {
		u64(uint64(t))
	}
}

// ParamsSHA256 is the hex SHA-256 of the parameters' canonical encoding
// (the one the binding uses), for audit records; "" for a simple query.
func ParamsSHA256(p *Params) string {
	if p == nil {
		return ""
	}
	h := sha256.New()
	var buf [8]byte
	writeParams(h, p, buf[:])
	return hex.EncodeToString(h.Sum(nil))
}

// Equal compares in constant time.
func (b Binding) Equal(o Binding) bool { return subtle.ConstantTimeCompare(b[:], o[:]) == 1 }

// IsZero reports whether b is unset.
func (b Binding) IsZero() bool { return b == Binding{} }

// String is the lowercase hex form.
func (b Binding) String() string { return hex.EncodeToString(b[:]) }

// MarshalText encodes b as hex.
func (b Binding) MarshalText() ([]byte, error) { return []byte(b.String()), nil }

// UnmarshalText decodes hex.
func (b *Binding) UnmarshalText(t []byte) error {
	if len(t) != 2*len(b) {
		return fmt.Errorf("binding: %d hex digits, want %d", len(t), 2*len(b))
	}
	_, err := hex.Decode(b[:], t)
	if err != nil {
		return fmt.Errorf("binding: %w", err)
	}
	return nil
}
