package mask

import (
	"fmt"
	"unicode"
	"unicode/utf8"
)

// Strategy is what happens to a column's values. The zero value is Keep.
type Strategy uint8

const (
	// Keep passes values through unchanged.
	Keep Strategy = iota
	// Redact replaces each non-NULL value with a fixed marker that is a
	// valid value of the column's type ("****", 0, false, 1970-01-01, the
	// nil uuid, '{}', ...), or NULL for types without one.
	Redact
	// Null replaces every value with SQL NULL.
	Null
	// Partial keeps the last Rule.KeepLast characters of text values and
	// replaces the others with Rule.Fill; other types are redacted.
	Partial
	// Hash replaces values with a keyed HMAC-SHA256 of their text form,
	// deterministic so that joins and GROUP BY still work; types whose
	// values cannot carry a hash are redacted.
	Hash
	// Email keeps the domain of an e-mail address ("****@example.com");
	// anything else, and other types, are redacted.
	Email
)

var strategyNames = [...]string{
	Keep:    "keep",
	Redact:  "redact",
	Null:    "null",
	Partial: "partial",
	Hash:    "hash",
	Email:   "email",
}

// String returns the strategy's name as ParseStrategy accepts it.
func (s Strategy) String() string {
	if int(s) < len(strategyNames) {
		return strategyNames[s]
	}
	return fmt.Sprintf("Strategy(%d)", uint8(s))
}

// ParseStrategy returns the strategy with the given name: keep, redact,
// null, partial, hash or email.
func ParseStrategy(name string) (Strategy, error) {
	for i, n := range strategyNames {
		if n == name {
			return Strategy(i), nil
		}
	}
	return 0, fmt.Errorf("parse mask strategy: unknown strategy %q", name)
}

// HashEncoding is how Hash writes the MAC into text-like values.
type HashEncoding uint8

const (
	// HashHex writes lowercase hex: 64 characters.
	HashHex HashEncoding = iota
	// HashBase64 writes unpadded URL-safe base64: 43 characters.
	HashBase64
)

// Defaults applied by Rule.validate.
const (
	// DefaultKeepLast is how many trailing characters Partial keeps.
	DefaultKeepLast = 4
	// DefaultFill replaces hidden characters in Partial and Email.
	DefaultFill = '*'
	// minHashLength is the shortest HashLength accepted: shorter
	// truncations collide too often to join on.
	minHashLength = 8
)

// Rule is a strategy and its parameters. The zero value keeps values.
type Rule struct {
	// Strategy applied to the column.
	Strategy Strategy
	// KeepLast is how many trailing characters Partial shows; 0 means
	// DefaultKeepLast. A value of KeepLast characters or fewer is filled
	// entirely.
	KeepLast int
	// Fill replaces hidden characters in Partial and Email; 0 means
	// DefaultFill. It must be a printable character.
	Fill rune
	// HashEncoding is how Hash writes the MAC into text-like and json
	// values.
	HashEncoding HashEncoding
	// HashLength keeps only the first HashLength characters of a text
	// hash; 0 keeps all of it (64 hex or 43 base64 characters). At least 8.
	HashLength int
}

// validate checks the parameters and fills defaults.
func (r *Rule) validate() error {
	if int(r.Strategy) >= len(strategyNames) {
		return fmt.Errorf("unknown strategy %d", r.Strategy)
	}
	if r.KeepLast < 0 {
		return fmt.Errorf("partial keep %d is negative", r.KeepLast)
	}
	if r.KeepLast == 0 {
		r.KeepLast = DefaultKeepLast
	}
	if r.Fill == 0 {
		r.Fill = DefaultFill
	}
	if !utf8.ValidRune(r.Fill) || !unicode.IsPrint(r.Fill) {
		return fmt.Errorf("fill %q is not a printable character", r.Fill)
	}
	full := hashTextLen(r.HashEncoding)
	if full == 0 {
		return fmt.Errorf("unknown hash encoding %d", r.HashEncoding)
	}
	switch {
	case r.HashLength == 0:
		r.HashLength = full
	case r.HashLength < minHashLength || r.HashLength > full:
		return fmt.Errorf("hash length %d is outside [%d, %d]", r.HashLength, minHashLength, full)
	}
	return nil
}

// hashTextLen is the length of a whole MAC in encoding e, 0 when e is unknown.
func hashTextLen(e HashEncoding) int {
	switch e {
	case HashHex:
		return 64
	case HashBase64:
		return 43
	}
	return 0
}

// Column says what to do with one result column.
type Column struct {
	Rule
	// TypeOID is the column's type as RowDescription reports it (the base
	// type for a domain).
	TypeOID uint32
	// TypeMod is the column's type modifier as RowDescription reports it;
	// 0 or -1 when unknown. Masked varchar(n) and char(n) values are cut to
	// n characters.
	TypeMod int32
	// Format is the column's result format code: 0 text, 1 binary.
	// CopyPlan ignores it (the COPY format decides).
	Format int16
}
