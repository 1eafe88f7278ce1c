package policy

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// readDecision reads a decision document strictly: every member must be
// known and well-formed, or the error says what is wrong (the caller
// denies). It runs once per evaluation; the Decision is then cached with
// the Result.
func readDecision(obj map[string]any) (Decision, error) {
	for k := range obj {
		switch k {
		case "allow", "reason", "mask", "require_approval":
		default:
			return Decision{}, fmt.Errorf("has an unknown member %q (known: allow, reason, mask, require_approval)", k)
		}
	}
	allow, ok := obj["allow"].(bool)
	if !ok {
		return Decision{}, errors.New(`has no boolean "allow"`)
	}
	var d Decision
	if r, present := obj["reason"]; present {
		if d.Reason, ok = r.(string); !ok {
			return Decision{}, errors.New(`has a "reason" that is not a string`)
		}
	}
	if m, present := obj["mask"]; present {
		mask, err := readMask(m)
		if err != nil {
			return Decision{}, fmt.Errorf(`has an invalid "mask": %w`, err)
		}
		d.Mask = mask
	}
	if a, present := obj["require_approval"]; present {
		ap, err := readApproval(a)
		if err != nil {
			return Decision{}, fmt.Errorf(`has an invalid "require_approval": %w`, err)
		}
		// require_approval holds the statement whatever allow says.
		switch {
		case ap.Reason == "" && d.Reason == "":
			ap.Reason = fmt.Sprintf("the statement needs approval by a member of %s", strings.Join(ap.ApproverGroups, " or "))
			d.Reason = ap.Reason
		case ap.Reason == "":
			ap.Reason = d.Reason
		case d.Reason == "":
			d.Reason = ap.Reason
		}
		d.RequireApproval = ap
		return d, nil
	}
	d.Allow = allow
	if !allow && d.Reason == "" {
		d.Reason = "denied by policy (the policy gave no reason)"
	}
	return d, nil
}

// readMask reads {"schema.table.column": {"strategy": ..., ...}}. An empty
// object is no mask (nil).
func readMask(v any) (map[string]MaskRule, error) {
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("got %s, want an object of column names to rules", jsonType(v))
	}
	if len(obj) == 0 {
		return nil, nil
	}
	mask := make(map[string]MaskRule, len(obj))
	for col, rv := range obj {
		if !validColumnName(col) {
			return nil, fmt.Errorf("column %q is not of the form schema.table.column", col)
		}
		r, err := readMaskRule(rv)
		if err != nil {
			return nil, fmt.Errorf("column %s: %w", col, err)
		}
		mask[col] = r
	}
	return mask, nil
}

// validColumnName accepts "schema.table.column": at least three non-empty
// dot-separated parts (quoted identifiers may contain dots).
func validColumnName(s string) bool {
	return strings.Count(s, ".") >= 2 && !strings.HasPrefix(s, ".") && !strings.HasSuffix(s, ".") &&
		!strings.Contains(s, "..")
}

// maskParams lists, per strategy, the parameters a rule may set.
var maskParams = map[string][]string{
	MaskRedact:  nil,
	MaskNull:    nil,
	MaskPartial: {"keep", "fill"},
	MaskHash:    {"hash_encoding", "hash_length"},
	MaskEmail:   {"fill"},
}

func readMaskRule(v any) (MaskRule, error) {
	obj, ok := v.(map[string]any)
	if !ok {
		return MaskRule{}, fmt.Errorf("got %s, want an object such as {\"strategy\": \"redact\"}", jsonType(v))
	}
	var r MaskRule
	s, present := obj["strategy"]
	if !present {
		return MaskRule{}, errors.New(`no "strategy"`)
	}
	if r.Strategy, ok = s.(string); !ok {
		return MaskRule{}, fmt.Errorf(`"strategy" is %s, want a string`, jsonType(s))
	}
	params, known := maskParams[r.Strategy]
	if !known {
		return MaskRule{}, fmt.Errorf("unknown strategy %q (known: redact, null, partial, hash, email)", r.Strategy)
	}
	for k, pv := range obj {
		if k == "strategy" {
			continue
		}
		if !slices.Contains(params, k) {
			return MaskRule{}, fmt.Errorf("%q does not apply to strategy %s", k, r.Strategy)
		}
		var err error
		switch k {
		case "keep":
			r.Keep, err = readInt(pv, 0, math.MaxInt32)
		case "fill":
			r.Fill, err = readFill(pv)
		case "hash_encoding":
			r.HashEncoding, err = readHashEncoding(pv)
		case "hash_length":
			r.HashLength, err = readInt(pv, 0, 64)
		}
		if err != nil {
			return MaskRule{}, fmt.Errorf("%q: %w", k, err)
		}
	}
	if r.HashLength != 0 {
		full := 64
		if r.HashEncoding == "base64" {
			full = 43
		}
		if r.HashLength < 8 || r.HashLength > full {
			return MaskRule{}, fmt.Errorf(`"hash_length" %d is outside [8, %d]`, r.HashLength, full)
		}
	}
	return r, nil
}

func readInt(v any, lo, hi int64) (int, error) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, fmt.Errorf("got %s, want an integer", jsonType(v))
	}
	i, err := n.Int64()
	if err != nil {
		return 0, fmt.Errorf("%s is not an integer", n)
	}
	if i < lo || i > hi {
		return 0, fmt.Errorf("%d is outside [%d, %d]", i, lo, hi)
	}
	return int(i), nil
}

func readFill(v any) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("got %s, want a one-character string", jsonType(v))
	}
	r, size := utf8.DecodeRuneInString(s)
	if size == 0 || size != len(s) || r == utf8.RuneError || !unicode.IsPrint(r) {
		return "", fmt.Errorf("%q is not one printable character", s)
	}
	return s, nil
}

func readHashEncoding(v any) (string, error) {
	s, ok := v.(string)
	if !ok || (s != "hex" && s != "base64") {
		return "", fmt.Errorf("got %v, want \"hex\" or \"base64\"", v)
	}
	return s, nil
}

// readApproval reads {"approver_groups": [...], "reason": "...",
// "timeout": "5m" | seconds}.
func readApproval(v any) (*Approval, error) {
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("got %s, want an object", jsonType(v))
	}
	a := &Approval{Timeout: DefaultApprovalTimeout}
	for k, mv := range obj {
		var err error
		switch k {
		case "approver_groups":
			a.ApproverGroups, err = readGroups(mv)
		case "reason":
			var isStr bool
			if a.Reason, isStr = mv.(string); !isStr {
				err = fmt.Errorf("got %s, want a string", jsonType(mv))
			}
		case "timeout":
			a.Timeout, err = readTimeout(mv)
		default:
			return nil, fmt.Errorf("unknown member %q (known: approver_groups, reason, timeout)", k)
		}
		if err != nil {
			return nil, fmt.Errorf("%q: %w", k, err)
		}
	}
	if a.ApproverGroups == nil {
		return nil, errors.New(`no "approver_groups": nobody could approve`)
	}
	return a, nil
}

func readGroups(v any) ([]string, error) {
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("got %s, want an array of group names", jsonType(v))
	}
	if len(list) == 0 {
		return nil, errors.New("empty: nobody could approve")
	}
	groups := make([]string, 0, len(list))
	for _, g := range list {
		s, ok := g.(string)
		if !ok || s == "" {
			return nil, fmt.Errorf("%v is not a group name", g)
		}
		groups = append(groups, s)
	}
	slices.Sort(groups)
	return slices.Compact(groups), nil
}

// readTimeout accepts a Go duration string ("5m", "90s") or a number of
// seconds.
func readTimeout(v any) (time.Duration, error) {
	var d time.Duration
	switch t := v.(type) {
	case string:
		var err error
		if d, err = time.ParseDuration(t); err != nil {
			return 0, fmt.Errorf("%q is not a duration such as \"5m\"", t)
		}
	case json.Number:
		f, err := t.Float64()
		if err != nil || math.IsNaN(f) || f > MaxApprovalTimeout.Seconds() {
			return 0, fmt.Errorf("%s seconds is longer than %v", t, MaxApprovalTimeout)
		}
		d = time.Duration(f * float64(time.Second))
	default:
		return 0, fmt.Errorf("got %s, want a duration string or a number of seconds", jsonType(v))
	}
	if d <= 0 {
		return 0, fmt.Errorf("%v is not positive", d)
	}
	if d > MaxApprovalTimeout {
		return 0, fmt.Errorf("%v is longer than %v", d, MaxApprovalTimeout)
	}
	return d, nil
}

// jsonType names the JSON type of a decoded value in error messages.
func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number, float64:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	default:
		return fmt.Sprintf("%T", v)
	}
}
