package approval

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Params are the parameters of an extended-protocol execution, as the
// client's Bind (and the Parse before it) sent them.
type Params struct {
	// Formats are the Bind's parameter format codes (0 text, 1 binary):
	// none (all text), one (for all) or one per value.
	Formats []int16
	// Values are the parameter values; a nil element is SQL NULL.
	Values [][]byte
	// Types are the parameter type OIDs the Parse declared (0 or missing
	// means unspecified); nil when none were declared.
	Types []uint32
}

// Format is the format code of value i.
func (p *Params) Format(i int) int16 {
	switch len(p.Formats) {
	case 0:
		return 0
	case 1:
		return p.Formats[0]
	}
	return p.Formats[i]
}

// Validate checks that the format codes fit the values.
func (p *Params) Validate() error {
	if p == nil {
		return nil
	}
	if n := len(p.Formats); n > 1 && n != len(p.Values) {
		return fmt.Errorf("%d parameter format codes for %d values", n, len(p.Values))
	}
	for _, f := range p.Formats {
		if f != 0 && f != 1 {
			return fmt.Errorf("parameter format code %d is neither 0 (text) nor 1 (binary)", f)
		}
	}
	return nil
}

// Clone returns a deep copy of p.
func (p *Params) Clone() *Params {
	if p == nil {
		return nil
	}
	c := &Params{Formats: slices.Clone(p.Formats), Types: slices.Clone(p.Types)}
	if p.Values != nil {
		c.Values = make([][]byte, len(p.Values))
		for i, v := range p.Values {
			if v != nil {
				c.Values[i] = bytes.Clone(v)
			}
		}
	}
	return c
}

// size is the number of bytes the values hold.
func (p *Params) size() int {
	if p == nil {
		return 0
	}
	n := 0
	for _, v := range p.Values {
		n += len(v)
	}
	return n
}

// Describe renders the values for people: $1='5', $2=NULL,
// $3=<binary 00000005>; each value is cut at max bytes.
func (p *Params) Describe(max int) string {
	if p == nil || len(p.Values) == 0 {
		return ""
	}
	var sb strings.Builder
	for i, v := range p.Values {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString("$" + strconv.Itoa(i+1) + "=")
		cut := ""
		if len(v) > max {
			v, cut = v[:max], "…"
		}
		switch {
		case v == nil:
			sb.WriteString("NULL")
		case p.Format(i) == 0 && utf8.Valid(v):
			sb.WriteString("'" + strings.ReplaceAll(string(v), "'", "''") + cut + "'")
		default:
			fmt.Fprintf(&sb, "<binary %x%s>", v, cut)
		}
	}
	return sb.String()
}

// paramValue is one value in JSON: null, {"text": ...} when it is valid
// UTF-8 without NUL (PostgreSQL's jsonb refuses \u0000), else
// {"base64": ...}. Either way the bytes round-trip exactly.
type paramValue struct {
	Text   *string `json:"text,omitempty"`
	Base64 *string `json:"base64,omitempty"`
}

type paramsJSON struct {
	Formats []int16       `json:"formats"`
	Types   []uint32      `json:"types,omitempty"`
	Values  []*paramValue `json:"values"`
}

// MarshalJSON encodes p readably and exactly.
func (p Params) MarshalJSON() ([]byte, error) {
	w := paramsJSON{Formats: p.Formats, Types: p.Types, Values: make([]*paramValue, len(p.Values))}
	if w.Formats == nil {
		w.Formats = []int16{}
	}
	for i, v := range p.Values {
		switch {
		case v == nil:
		case utf8.Valid(v) && bytes.IndexByte(v, 0) < 0:
			s := string(v)
			w.Values[i] = &paramValue{Text: &s}
		default:
			s := base64.StdEncoding.EncodeToString(v)
			w.Values[i] = &paramValue{Base64: &s}
		}
	}
	return json.Marshal(w)
}

// UnmarshalJSON decodes what MarshalJSON encoded.
func (p *Params) UnmarshalJSON(b []byte) error {
	var w paramsJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*p = Params{Formats: w.Formats, Types: w.Types, Values: make([][]byte, len(w.Values))}
	if len(p.Formats) == 0 {
		p.Formats = nil
	}
	for i, v := range w.Values {
		switch {
		case v == nil:
		case v.Text != nil && v.Base64 == nil:
			p.Values[i] = []byte(*v.Text)
		case v.Base64 != nil && v.Text == nil:
			d, err := base64.StdEncoding.DecodeString(*v.Base64)
			if err != nil {
				return fmt.Errorf("parameter %d: %w", i+1, err)
			}
			if d == nil {
				d = []byte{}
			}
			p.Values[i] = d
		default:
			return errors.New("a parameter value has both or neither of text and base64")
		}
	}
	return nil
}
