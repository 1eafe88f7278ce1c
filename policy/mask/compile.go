package mask

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"unicode/utf8"
)

// op is what a compiled column does to each value.
type op uint8

const (
	opKeep    op = iota // copy as is
	opConst             // a fixed value, or NULL
	opPartial           // text: keep the tail
	opEmail             // text: keep the domain
	opHash              // HMAC of the text form
)

// colPlan is one column compiled for one format.
type colPlan struct {
	op     op
	kind   typeKind
	binary bool
	// null and value: opConst's output (null: SQL NULL).
	null  bool
	value []byte
	// wire is opConst's output as a DataRow field: int32 length + value.
	wire []byte
	// redact is the redacted value, the fallback of the dynamic ops;
	// redactNull when the type has none.
	redact     []byte
	redactNull bool
	keep       int
	fill       []byte
	fillRun    []byte // fill repeated fillRunLen times
	hashEnc    HashEncoding
	hashLen    int
	// maxChars and maxBytes cap masked text (0: no cap).
	maxChars int
	maxBytes int
}

// compile turns c into a colPlan for the given format.
func compile(c Column, binaryFormat bool) (colPlan, error) {
	r := c.Rule
	if err := r.validate(); err != nil {
		return colPlan{}, err
	}
	t := lookupType(c.TypeOID)
	p := colPlan{
		kind:     t.kind,
		binary:   binaryFormat,
		keep:     r.KeepLast,
		fill:     utf8.AppendRune(nil, r.Fill),
		hashEnc:  r.HashEncoding,
		hashLen:  r.HashLength,
		maxBytes: t.maxBytes,
	}
	p.fillRun = bytes.Repeat(p.fill, fillRunLen)
	if t.typmodChars && c.TypeMod >= 5 {
		p.maxChars = int(c.TypeMod) - 4
	}
	switch t.kind {
	case kindUnknown:
		p.redactNull = true
	case kindText, kindBPChar:
		p.redact = p.fit([]byte(t.text), 0)
	default:
		if binaryFormat {
			p.redact = t.bin
		} else {
			p.redact = []byte(t.text)
		}
	}
	// "char" holds one byte: nothing but the marker fits.
	textLike := (t.kind == kindText || t.kind == kindBPChar) && t.maxBytes != 1
	switch r.Strategy {
	case Keep:
		p.op = opKeep
	case Null:
		p.op, p.null = opConst, true
	case Redact:
		p.setRedact()
	case Partial, Email:
		if !textLike {
			p.setRedact()
		} else if r.Strategy == Partial {
			p.op = opPartial
		} else {
			p.op = opEmail
		}
	case Hash:
		switch {
		case textLike, t.kind == kindJSON, t.kind == kindJSONB, t.kind == kindBytea, t.kind == kindUUID:
			p.op = opHash
		default:
			p.setRedact()
		}
	default:
		return colPlan{}, fmt.Errorf("unknown strategy %d", r.Strategy)
	}
	if p.op == opConst {
		if p.null {
			p.wire = binary.BigEndian.AppendUint32(nil, 0xffffffff)
		} else {
			p.wire = binary.BigEndian.AppendUint32(nil, uint32(len(p.value)))
			p.wire = append(p.wire, p.value...)
		}
	}
	return p, nil
}

// setRedact makes p write the redacted value.
func (p *colPlan) setRedact() {
	p.op, p.value, p.null = opConst, p.redact, p.redactNull
}

// fit cuts the text in dst[start:] to the column's caps, at a character
// boundary.
func (p *colPlan) fit(dst []byte, start int) []byte {
	if p.maxChars == 0 && p.maxBytes == 0 {
		return dst
	}
	v := dst[start:]
	end, chars := 0, 0
	for end < len(v) {
		if p.maxChars > 0 && chars == p.maxChars {
			break
		}
		_, size := utf8.DecodeRune(v[end:])
		if p.maxBytes > 0 && end+size > p.maxBytes {
			break
		}
		end += size
		chars++
	}
	return dst[:start+end]
}
