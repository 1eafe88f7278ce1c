package policy

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestCombine(t *testing.T) {
	ssn := map[string]MaskRule{"public.c.ssn": {Strategy: MaskPartial, Keep: 4}}
	email := map[string]MaskRule{"public.c.email": {Strategy: MaskEmail}}
	ok := Decision{Allow: true, Reason: "ok"}
	okSSN := Decision{Allow: true, Reason: "ok", Mask: ssn}
	okEmail := Decision{Allow: true, Reason: "ok", Mask: email}
	deny := Decision{Reason: "no"}
	held := func(reason string, d time.Duration, groups ...string) Decision {
		return Decision{Reason: reason, RequireApproval: &Approval{ApproverGroups: groups, Reason: reason, Timeout: d}}
	}
	base := Decision{Allow: true, Reason: "every statement is allowed"}
	tests := []struct {
		name string
		ds   []Decision
		want Decision
	}{
		{"one is itself", []Decision{okSSN}, okSSN},
		{"all allowed", []Decision{ok, ok}, base},
		{"masks united", []Decision{okSSN, ok, okEmail}, Decision{Allow: true, Reason: base.Reason,
			Mask: map[string]MaskRule{"public.c.ssn": {Strategy: MaskPartial, Keep: 4}, "public.c.email": {Strategy: MaskEmail}}}},
		{"conflicting rules: redact", []Decision{okSSN, {Allow: true, Mask: map[string]MaskRule{"public.c.ssn": {Strategy: MaskHash}}}},
			Decision{Allow: true, Reason: base.Reason, Mask: map[string]MaskRule{"public.c.ssn": {Strategy: MaskRedact}}}},
		{"conflicting rules: null", []Decision{okSSN, {Allow: true, Mask: map[string]MaskRule{"public.c.ssn": {Strategy: MaskNull}}}},
			Decision{Allow: true, Reason: base.Reason, Mask: map[string]MaskRule{"public.c.ssn": {Strategy: MaskNull}}}},
		{"first denial wins", []Decision{ok, held("h", time.Minute, "a"), deny, {Reason: "later"}}, deny},
		{"approval", []Decision{okSSN, held("h", time.Minute, "a")},
			Decision{Reason: "h", Mask: ssn, RequireApproval: &Approval{ApproverGroups: []string{"a"}, Reason: "h", Timeout: time.Minute}}},
		{"approvals combined", []Decision{held("h1", 3*time.Minute, "a", "b", "c"), ok, held("h2", time.Minute, "b", "c"), held("h1", 5*time.Minute, "b", "c", "d")},
			Decision{Reason: "h1; h2", RequireApproval: &Approval{ApproverGroups: []string{"b", "c"}, Reason: "h1; h2", Timeout: time.Minute}}},
		{"no common approver", []Decision{held("h1", time.Minute, "a"), held("h2", time.Minute, "b")},
			Decision{Reason: "h1; h2; the statements need approval by different groups (a; b) and nobody could approve them together: send them separately"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := combine(tt.ds, base)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v (approval %+v), want %+v (approval %+v)", got, got.RequireApproval, tt.want, tt.want.RequireApproval)
			}
		})
	}
}

// TestCombineShares: combining decisions with the same mask allocates no
// new mask.
func TestCombineShares(t *testing.T) {
	m := map[string]MaskRule{"public.c.ssn": {Strategy: MaskRedact}}
	d := Decision{Allow: true, Reason: "ok", Mask: m}
	got := combine([]Decision{d, d, {Allow: true}}, Decision{Allow: true})
	if reflect.ValueOf(got.Mask).Pointer() != reflect.ValueOf(m).Pointer() {
		t.Fatal("mask copied, want it shared")
	}
	a := []string{"a", "b"}
	if in := intersect(a, []string{"b", "a", "c"}); len(in) != 2 || &in[0] != &a[0] {
		t.Fatalf("intersect: got %v, want a itself", in)
	}
	if in := intersect(a, []string{"b"}); !reflect.DeepEqual(in, []string{"b"}) || a[0] != "a" {
		t.Fatalf("intersect: got %v (a %v), want [b] and a unchanged", in, a)
	}
}

func TestResultNeedsApproval(t *testing.T) {
	ap := &Approval{ApproverGroups: []string{"a"}, Reason: "h", Timeout: time.Minute}
	r := newResult(1, []Checked{{Decision: Decision{Allow: true}}, {Index: 1, Decision: Decision{Reason: "h", RequireApproval: ap}}})
	if r.Allowed() || !r.NeedsApproval() || !strings.HasPrefix(r.Decision.Reason, "h") {
		t.Fatalf("got %+v, want held", r.Decision)
	}
	r = newResult(1, nil)
	if !r.Allowed() || r.NeedsApproval() || r.Decision.Reason != "empty query" {
		t.Fatalf("empty: got %+v", r.Decision)
	}
}
