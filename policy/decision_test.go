package policy

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"
)

// decideWith evaluates a policy whose decision is the Rego expression
// decision for one SELECT.
func decideWith(t *testing.T, decision string) Decision {
	t.Helper()
	e := mustEngine(t, Config{Paths: []string{policyDir(t, "package interlock\n\ndecision := "+decision+"\n")}})
	d, err := e.Session(ctxFor(nil, "dev")).Decide(context.Background(), sel())
	if err != nil {
		t.Fatalf("Decide: %v", err)
	}
	return d
}

// TestDecisionMask: mask members are read strictly; anything malformed
// denies with a reason (fail closed).
func TestDecisionMask(t *testing.T) {
	tests := []struct {
		name     string
		decision string
		want     map[string]MaskRule // when allowed
		deny     string              // reason substring when denied
	}{
		{"rules", `{"allow": true, "reason": "ok", "mask": {
			"public.customers.ssn": {"strategy": "partial", "keep": 4},
			"public.customers.email": {"strategy": "email", "fill": "#"},
			"public.customers.notes": {"strategy": "redact"},
			"public.customers.dob": {"strategy": "null"},
			"public.customers.card": {"strategy": "hash", "hash_encoding": "base64", "hash_length": 16},
			"public.customers.phone": {"strategy": "partial"},
			"s.\"odd.name\".c": {"strategy": "hash"}}}`,
			map[string]MaskRule{
				"public.customers.ssn":   {Strategy: MaskPartial, Keep: 4},
				"public.customers.email": {Strategy: MaskEmail, Fill: "#"},
				"public.customers.notes": {Strategy: MaskRedact},
				"public.customers.dob":   {Strategy: MaskNull},
				"public.customers.card":  {Strategy: MaskHash, HashEncoding: "base64", HashLength: 16},
				"public.customers.phone": {Strategy: MaskPartial},
				`s."odd.name".c`:         {Strategy: MaskHash},
			}, ""},
		{"empty mask", `{"allow": true, "reason": "ok", "mask": {}}`, nil, ""},
		{"no mask", `{"allow": true, "reason": "ok"}`, nil, ""},
		{"unknown strategy", `{"allow": true, "mask": {"public.t.c": {"strategy": "scramble"}}}`, nil, `column public.t.c: unknown strategy "scramble"`},
		{"keep is not a strategy", `{"allow": true, "mask": {"public.t.c": {"strategy": "keep"}}}`, nil, "unknown strategy"},
		{"strategy missing", `{"allow": true, "mask": {"public.t.c": {"keep": 4}}}`, nil, `no "strategy"`},
		{"strategy not a string", `{"allow": true, "mask": {"public.t.c": {"strategy": 1}}}`, nil, `"strategy" is a number`},
		{"rule not an object", `{"allow": true, "mask": {"public.t.c": "redact"}}`, nil, "got a string, want an object"},
		{"mask not an object", `{"allow": true, "mask": ["public.t.c"]}`, nil, `invalid "mask": got an array`},
		{"mask null", `{"allow": true, "mask": null}`, nil, `invalid "mask": got null`},
		{"column not qualified", `{"allow": true, "mask": {"ssn": {"strategy": "redact"}}}`, nil, `column "ssn" is not of the form schema.table.column`},
		{"column with empty part", `{"allow": true, "mask": {"public..ssn": {"strategy": "redact"}}}`, nil, "not of the form"},
		{"keep with redact", `{"allow": true, "mask": {"public.t.c": {"strategy": "redact", "keep": 4}}}`, nil, `"keep" does not apply to strategy redact`},
		{"unknown parameter", `{"allow": true, "mask": {"public.t.c": {"strategy": "partial", "kep": 4}}}`, nil, `"kep" does not apply`},
		{"keep negative", `{"allow": true, "mask": {"public.t.c": {"strategy": "partial", "keep": -1}}}`, nil, `"keep": -1 is outside`},
		{"keep fractional", `{"allow": true, "mask": {"public.t.c": {"strategy": "partial", "keep": 4.5}}}`, nil, "4.5 is not an integer"},
		{"keep a string", `{"allow": true, "mask": {"public.t.c": {"strategy": "partial", "keep": "4"}}}`, nil, "want an integer"},
		{"fill two characters", `{"allow": true, "mask": {"public.t.c": {"strategy": "email", "fill": "**"}}}`, nil, "not one printable character"},
		{"fill control", `{"allow": true, "mask": {"public.t.c": {"strategy": "partial", "fill": "\n"}}}`, nil, "not one printable character"},
		{"hash length short", `{"allow": true, "mask": {"public.t.c": {"strategy": "hash", "hash_length": 4}}}`, nil, "outside [8, 64]"},
		{"hash length base64", `{"allow": true, "mask": {"public.t.c": {"strategy": "hash", "hash_encoding": "base64", "hash_length": 50}}}`, nil, "outside [8, 43]"},
		{"hash encoding", `{"allow": true, "mask": {"public.t.c": {"strategy": "hash", "hash_encoding": "rot13"}}}`, nil, `want "hex" or "base64"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := decideWith(t, tt.decision)
			if tt.deny != "" {
				if d.Allow || d.NeedsApproval() || !strings.Contains(d.Reason, tt.deny) || d.Mask != nil {
					t.Fatalf("got %+v, want a denial containing %q", d, tt.deny)
				}
				return
			}
			if !d.Allow || !reflect.DeepEqual(d.Mask, tt.want) || d.Masking() != (len(tt.want) > 0) {
				t.Fatalf("got %+v, want allowed with mask %v", d, tt.want)
			}
		})
	}
}

// TestDecisionRequireApproval: require_approval holds the statement
// whatever allow says; anything malformed denies.
func TestDecisionRequireApproval(t *testing.T) {
	tests := []struct {
		name     string
		decision string
		want     *Approval // nil: denied
		reason   string    // the decision's reason (substring when denied)
		mask     bool
	}{
		{"duration string", `{"allow": false, "reason": "r", "require_approval": {"approver_groups": ["sec", "dba", "sec"], "reason": "r", "timeout": "90s"}}`,
			&Approval{ApproverGroups: []string{"dba", "sec"}, Reason: "r", Timeout: 90 * time.Second}, "r", false},
		{"allow true is still held", `{"allow": true, "reason": "r", "require_approval": {"approver_groups": ["a"]}}`,
			&Approval{ApproverGroups: []string{"a"}, Reason: "r", Timeout: DefaultApprovalTimeout}, "r", false},
		{"seconds", `{"allow": false, "reason": "r", "require_approval": {"approver_groups": ["a"], "timeout": 30}}`,
			&Approval{ApproverGroups: []string{"a"}, Reason: "r", Timeout: 30 * time.Second}, "r", false},
		{"fractional seconds", `{"allow": false, "reason": "r", "require_approval": {"approver_groups": ["a"], "timeout": 1.5}}`,
			&Approval{ApproverGroups: []string{"a"}, Reason: "r", Timeout: 1500 * time.Millisecond}, "r", false},
		{"approval reason only", `{"allow": false, "require_approval": {"approver_groups": ["a"], "reason": "big change"}}`,
			&Approval{ApproverGroups: []string{"a"}, Reason: "big change", Timeout: DefaultApprovalTimeout}, "big change", false},
		{"no reason at all", `{"allow": false, "require_approval": {"approver_groups": ["a", "b"]}}`,
			&Approval{ApproverGroups: []string{"a", "b"}, Reason: "the statement needs approval by a member of a or b", Timeout: DefaultApprovalTimeout},
			"the statement needs approval by a member of a or b", false},
		{"with mask", `{"allow": false, "reason": "r", "mask": {"public.t.c": {"strategy": "redact"}}, "require_approval": {"approver_groups": ["a"]}}`,
			&Approval{ApproverGroups: []string{"a"}, Reason: "r", Timeout: DefaultApprovalTimeout}, "r", true},
		{"no groups", `{"allow": false, "reason": "r", "require_approval": {"reason": "r"}}`, nil, `no "approver_groups"`, false},
		{"empty groups", `{"allow": false, "reason": "r", "require_approval": {"approver_groups": []}}`, nil, `"approver_groups": empty`, false},
		{"empty group name", `{"allow": false, "reason": "r", "require_approval": {"approver_groups": [""]}}`, nil, "is not a group name", false},
		{"group not a string", `{"allow": false, "reason": "r", "require_approval": {"approver_groups": [1]}}`, nil, "1 is not a group name", false},
		{"groups a string", `{"allow": false, "reason": "r", "require_approval": {"approver_groups": "a"}}`, nil, "want an array", false},
		{"timeout garbage", `{"allow": false, "reason": "r", "require_approval": {"approver_groups": ["a"], "timeout": "soon"}}`, nil, `"soon" is not a duration`, false},
		{"timeout negative", `{"allow": false, "reason": "r", "require_approval": {"approver_groups": ["a"], "timeout": "-1m"}}`, nil, "is not positive", false},
		{"timeout zero", `{"allow": false, "reason": "r", "require_approval": {"approver_groups": ["a"], "timeout": 0}}`, nil, "is not positive", false},
		{"timeout too long", `{"allow": false, "reason": "r", "require_approval": {"approver_groups": ["a"], "timeout": "25h"}}`, nil, "longer than 24h", false},
		{"timeout seconds too long", `{"allow": false, "reason": "r", "require_approval": {"approver_groups": ["a"], "timeout": 1e10}}`, nil, "longer than 24h", false},
		{"timeout boolean", `{"allow": false, "reason": "r", "require_approval": {"approver_groups": ["a"], "timeout": true}}`, nil, "want a duration string", false},
		{"reason not a string", `{"allow": false, "reason": "r", "require_approval": {"approver_groups": ["a"], "reason": 1}}`, nil, `"reason": got a number`, false},
		{"unknown member", `{"allow": false, "reason": "r", "require_approval": {"approvers": ["a"]}}`, nil, `unknown member "approvers"`, false},
		{"not an object", `{"allow": false, "reason": "r", "require_approval": true}`, nil, `invalid "require_approval": got a boolean`, false},
		{"null", `{"allow": false, "reason": "r", "require_approval": null}`, nil, `invalid "require_approval": got null`, false},
		{"unknown decision member", `{"allow": true, "reason": "r", "require_aproval": {"approver_groups": ["a"]}}`, nil, `unknown member "require_aproval"`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := decideWith(t, tt.decision)
			if tt.want == nil {
				if !d.Denied() || !strings.Contains(d.Reason, tt.reason) {
					t.Fatalf("got %+v, want a denial containing %q", d, tt.reason)
				}
				return
			}
			if d.Allow || d.Denied() || !d.NeedsApproval() || d.Reason != tt.reason || d.Masking() != tt.mask {
				t.Fatalf("got %+v, want held with reason %q (mask %v)", d, tt.reason, tt.mask)
			}
			if !reflect.DeepEqual(d.RequireApproval, tt.want) {
				t.Fatalf("got approval %+v, want %+v", d.RequireApproval, tt.want)
			}
		})
	}
}

func TestMaskedFilter(t *testing.T) {
	d := Decision{Allow: true, Mask: map[string]MaskRule{"public.customers.ssn": {Strategy: MaskRedact}}}
	tests := []struct {
		filters []string
		want    string
	}{
		{nil, ""},
		{[]string{"public.customers.id", "public.orders.ssn"}, ""},
		{[]string{"public.customers.id", "public.customers.ssn"}, "public.customers.ssn"},
		{[]string{"public.orders.*"}, ""},
		{[]string{"public.customers.*"}, "public.customers.*"},
		{[]string{"public.cust.*"}, ""},
		{[]string{"*"}, "*"},
	}
	for _, tt := range tests {
		got, ok := d.MaskedFilter(tt.filters)
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("MaskedFilter(%q) = %q, %v; want %q", tt.filters, got, ok, tt.want)
		}
	}
	var none Decision
	if f, ok := none.MaskedFilter([]string{"*", "public.customers.ssn"}); ok {
		t.Errorf("no mask: MaskedFilter = %q, want none", f)
	}
}
