package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// record is what Verify and Open need from one line.
type record struct {
	Seq  uint64
	Time string
	Prev string
	Type string

	// checkpoint members; has* tell which were present.
	Chain      string
	CoveredSeq uint64
	Final      bool
	KeyID      string
	Sig        string
	has        fieldSet

	// rotate
	PrevFile string
	// recovery
	Reasons   []string
	TornBytes int64

	// Members is the number of top-level members.
	Members int
}

type fieldSet uint16

const (
	hasSeq fieldSet = 1 << iota
	hasTime
	hasPrev
	hasType
	hasChain
	hasCovered
	hasFinal
	hasKeyID
	hasSig
)

// checkpointMembers is the exact member count of a checkpoint record.
const checkpointMembers = 9

// parseLine parses one line (without its newline) strictly: a single JSON
// object, no duplicate keys, with an unsigned integer seq, an RFC 3339
// time, a 64-digit lowercase hex prev and a non-empty string type. Fields
// the Log writes itself (checkpoint, rotate, recovery members) are type
// checked when present; other members only need to be valid JSON.
func parseLine(line []byte) (record, error) {
	var r record
	if len(line) == 0 {
		return r, errors.New("empty line")
	}
	if line[0] != '{' {
		return r, errors.New("not a JSON object")
	}
	if bytes.IndexByte(line, '\n') >= 0 {
		return r, errors.New("newline inside a record")
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	if _, err := dec.Token(); err != nil {
		return r, fmt.Errorf("bad JSON: %w", err)
	}
	seen := make(map[string]struct{}, 24)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return r, fmt.Errorf("bad JSON: %w", err)
		}
		key, ok := tok.(string)
		if !ok {
			return r, errors.New("bad JSON: object key is not a string")
		}
		if _, dup := seen[key]; dup {
			return r, fmt.Errorf("duplicate key %q", key)
		}
		seen[key] = struct{}{}
		r.Members++
		if err := r.decodeMember(dec, key); err != nil {
			return r, err
		}
	}
	if _, err := dec.Token(); err != nil { // closing brace
		return r, fmt.Errorf("bad JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return r, errors.New("bad JSON: trailing data after the object")
	}
	switch {
	case r.has&hasSeq == 0:
		return r, errors.New("missing seq")
	case r.has&hasTime == 0:
		return r, errors.New("missing time")
	case r.has&hasPrev == 0:
		return r, errors.New("missing prev")
	case r.has&hasType == 0:
		return r, errors.New("missing type")
	}
	return r, nil
}

func (r *record) decodeMember(dec *json.Decoder, key string) error {
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return fmt.Errorf("bad JSON in field %q: %w", key, err)
	}
	var target any
	switch key {
	case fieldSeq:
		target, r.has = &r.Seq, r.has|hasSeq
	case fieldTime:
		target, r.has = &r.Time, r.has|hasTime
	case fieldPrev:
		target, r.has = &r.Prev, r.has|hasPrev
	case fieldType:
		target, r.has = &r.Type, r.has|hasType
	case fieldChain:
		target, r.has = &r.Chain, r.has|hasChain
	case fieldCoveredSeq:
		target, r.has = &r.CoveredSeq, r.has|hasCovered
	case fieldFinal:
		target, r.has = &r.Final, r.has|hasFinal
	case fieldKeyID:
		target, r.has = &r.KeyID, r.has|hasKeyID
	case fieldSig:
		target, r.has = &r.Sig, r.has|hasSig
	case fieldPrevFile:
		target = &r.PrevFile
	case fieldReasons:
		target = &r.Reasons
	case fieldTornBytes:
		target = &r.TornBytes
	default:
		return nil
	}
	// encoding/json leaves the target unchanged on null; the Log never writes
	// null for these members.
	if string(raw) == "null" {
		return fmt.Errorf("field %q is null", key)
	}
	if err := json.Unmarshal(raw, target); err != nil {
		return fmt.Errorf("field %q: %w", key, err)
	}
	switch key {
	case fieldTime:
		if _, err := time.Parse(time.RFC3339Nano, r.Time); err != nil {
			return fmt.Errorf("time %q is not RFC 3339", r.Time)
		}
	case fieldPrev:
		if !isHash(r.Prev) {
			return errors.New("prev is not 64 lowercase hex digits")
		}
	case fieldType:
		if r.Type == "" {
			return errors.New("empty type")
		}
	}
	return nil
}

func isHash(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
