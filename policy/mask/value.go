package mask

import (
	"bytes"
	"crypto/sha256"
	"hash"
	"unicode/utf8"
)

// masker masks single values. It holds the per-plan state: the HMAC and a
// scratch buffer that grows to the largest value decoded.
type masker struct {
	mac     hash.Hash
	sum     [sha256.Size]byte
	uuid    [36]byte
	scratch []byte
}

// newMasker returns a masker for cols; it needs h when a column hashes.
func newMasker(cols []colPlan, h *Hasher) (masker, error) {
	var m masker
	for i := range cols {
		if cols[i].op == opHash {
			if h == nil {
				return m, errNoHasher
			}
			m.mac = h.newMAC()
			break
		}
	}
	return m, nil
}

// appendValue appends the masked form of v, a non-NULL value of column c in
// c's format, to dst. null reports SQL NULL instead; dst is then returned
// unchanged.
func (m *masker) appendValue(dst []byte, c *colPlan, v []byte) (out []byte, null bool) {
	switch c.op {
	case opConst:
		return append(dst, c.value...), c.null
	case opPartial:
		return c.fit(c.appendPartial(dst, v), len(dst)), false
	case opEmail:
		return c.appendEmail(dst, v)
	case opHash:
		return m.appendHash(dst, c, v)
	}
	return append(dst, v...), false
}

// appendRedacted appends c's redacted value.
func (c *colPlan) appendRedacted(dst []byte) ([]byte, bool) {
	return append(dst, c.redact...), c.redactNull
}

// appendPartial keeps the last c.keep characters of v and fills the
// others. A char(n) value loses its trailing spaces first, unless it is
// all spaces.
func (c *colPlan) appendPartial(dst, v []byte) []byte {
	if c.kind == kindBPChar {
		if t := trimSpaces(v); len(t) > 0 {
			v = t
		}
	}
	n := utf8.RuneCount(v)
	keep := c.keep
	if n <= keep {
		keep = 0
	}
	tail := len(v)
	for range keep {
		_, size := utf8.DecodeLastRune(v[:tail])
		tail -= size
	}
	dst = c.appendFill(dst, n-keep)
	return append(dst, v[tail:]...)
}

// fillRunLen is how many fill characters appendFill copies at a time.
const fillRunLen = 32

// appendFill appends n fill characters.
func (c *colPlan) appendFill(dst []byte, n int) []byte {
	for n > 0 {
		k := min(n, fillRunLen)
		dst = append(dst, c.fillRun[:k*len(c.fill)]...)
		n -= k
	}
	return dst
}

// emailFill is how many fill characters replace the local part.
const emailFill = 4

// appendEmail keeps the domain of an address; anything else is redacted.
func (c *colPlan) appendEmail(dst, v []byte) ([]byte, bool) {
	if c.kind == kindBPChar {
		v = trimSpaces(v)
	}
	at := bytes.LastIndexByte(v, '@')
	if at <= 0 || at == len(v)-1 || !emailPart(v[:at]) || !emailPart(v[at+1:]) {
		return c.appendRedacted(dst)
	}
	start := len(dst)
	dst = c.appendFill(dst, emailFill)
	return c.fit(append(dst, v[at:]...), start), false
}

// emailPart reports whether b could be one side of a bare address: no
// spaces or control characters.
func emailPart(b []byte) bool {
	for _, ch := range b {
		if ch <= ' ' || ch == 0x7f {
			return false
		}
	}
	return true
}

// trimSpaces drops the trailing spaces of a char(n) value.
func trimSpaces(v []byte) []byte {
	for len(v) > 0 && v[len(v)-1] == ' ' {
		v = v[:len(v)-1]
	}
	return v
}
