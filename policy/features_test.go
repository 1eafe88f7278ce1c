package policy

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"
)

// piiData is the policy data of the masking and approval examples in
// docs/policy.md.
func piiData() map[string]any {
	return map[string]any{
		"columns": map[string]any{
			"public.customers.ssn":   map[string]any{"tags": []any{"pii"}, "mask": map[string]any{"strategy": "partial", "keep": 4}},
			"public.customers.email": map[string]any{"tags": []any{"pii"}, "mask": map[string]any{"strategy": "email"}},
			"public.customers.notes": map[string]any{"tags": []any{"pii"}},
		},
		"tables": map[string]any{
			"public.payments": map[string]any{"tags": []any{"critical"}},
		},
		"origins": map[string]any{"enforce": true},
	}
}

var piiMask = map[string]MaskRule{
	"public.customers.ssn":   {Strategy: MaskPartial, Keep: 4},
	"public.customers.email": {Strategy: MaskEmail},
	"public.customers.notes": {Strategy: MaskRedact},
}

// TestCheckDefaultPolicyFeatures runs real SQL through the default policy
// with masking, approval and origin settings.
func TestCheckDefaultPolicyFeatures(t *testing.T) {
	e := mustEngine(t, Config{Data: piiData()})
	const agent = "/home/alice/.local/bin/claude"
	withOrigin := func(c Context, exe string) Context {
		c.Origin = &Origin{PID: 4242, UID: 1000, GID: 1000, Comm: "x", Exe: exe, Cgroup: "/user.slice/user-1000.slice/session-3.scope"}
		return c
	}
	type want int
	const (
		allow want = iota
		deny
		hold
	)
	tests := []struct {
		name   string
		ctx    Context
		text   string
		want   want
		reason string
		mask   map[string]MaskRule
	}{
		// Masking.
		{"masked user", ctxFor([]string{"readers"}, "production"), "SELECT name, ssn, email FROM customers WHERE id = 7", allow, "allowed for the reader role", piiMask},
		{"masked user, other table", ctxFor([]string{"readers"}, "production"), "SELECT * FROM orders", allow, "", piiMask},
		{"unmasked user", ctxFor([]string{"readers", "pii-readers"}, "production"), "SELECT name, ssn, email FROM customers WHERE id = 7", allow, "allowed for the reader role", nil},
		{"leaking WHERE", ctxFor([]string{"readers"}, "production"), "SELECT name FROM customers WHERE ssn LIKE '123%'", deny,
			"column public.customers.ssn is masked for alice@example.com: it may not be used to filter, join, group or sort rows", nil},
		{"leaking ORDER BY", ctxFor([]string{"readers"}, "dev"), "SELECT name FROM customers ORDER BY ssn", deny, "column public.customers.ssn is masked", nil},
		{"leaking join", ctxFor([]string{"readers"}, "dev"), "SELECT o.id FROM orders o JOIN customers c ON c.email = o.email", deny, "column public.customers.email is masked", nil},
		{"leaking GROUP BY", ctxFor([]string{"readers"}, "dev"), "SELECT count(*) FROM customers GROUP BY notes", deny, "column public.customers.notes is masked", nil},
		{"predicate allowed when unmasked", ctxFor([]string{"readers", "pii-readers"}, "dev"), "SELECT name FROM customers WHERE ssn LIKE '123%'", allow, "", nil},
		{"copying a masked column", ctxFor([]string{"writers"}, "dev"), "INSERT INTO notes (body) SELECT ssn FROM customers", deny,
			"column public.customers.ssn is masked for alice@example.com: its values may not be copied", nil},
		// Approval.
		{"UPDATE without WHERE on production", ctxFor([]string{"writers", "pii-readers"}, "production"), "UPDATE accounts SET balance = 0", hold,
			"UPDATE without WHERE on production needs approval by approvers", nil},
		{"UPDATE without WHERE in dev", ctxFor([]string{"writers"}, "dev"), "UPDATE accounts SET balance = 0", allow, "", piiMask},
		{"held statement keeps the mask", ctxFor([]string{"writers"}, "production"), "DELETE FROM accounts", hold,
			"DELETE without WHERE on production needs approval by approvers", piiMask},
		{"DDL by an admin on production", ctxFor([]string{"admins", "pii-readers"}, "production"), "ALTER TABLE accounts ADD COLUMN note text", hold,
			"ALTER TABLE on production needs approval by approvers", nil},
		{"DROP on production", ctxFor([]string{"admins"}, "production"), "DROP TABLE accounts", deny, "DROP TABLE is not allowed on production, not even for admins", nil},
		{"TRUNCATE on production", ctxFor([]string{"admins"}, "production"), "TRUNCATE accounts", deny, "TRUNCATE TABLE is not allowed on production", nil},
		{"critical table", ctxFor([]string{"writers", "pii-readers"}, "production"), "INSERT INTO payments (amount) VALUES (10)", hold,
			"writing to critical table public.payments on production needs approval by approvers", nil},
		{"reading a critical table", ctxFor([]string{"readers", "pii-readers"}, "production"), "SELECT * FROM payments", allow, "", nil},
		{"held with another statement", ctxFor([]string{"writers", "pii-readers"}, "production"), "SELECT 1; UPDATE accounts SET balance = 0", hold,
			"UPDATE without WHERE on production needs approval by approvers", nil},
		{"denial wins over approval", ctxFor([]string{"writers", "pii-readers"}, "production"), "UPDATE accounts SET balance = 0; SELECT pg_read_file('/etc/passwd')", deny,
			"function pg_read_file is not allowed for the writer role", nil},
		// Origin.
		{"psql may write", withOrigin(ctxFor([]string{"writers", "pii-readers"}, "dev"), "/usr/bin/psql"), "INSERT INTO accounts (id) VALUES (1)", allow, "allowed for the writer role", nil},
		{"agent is read-only", withOrigin(ctxFor([]string{"writers", "pii-readers"}, "dev"), agent), "INSERT INTO accounts (id) VALUES (1)", deny,
			"insert statements need the writer role; alice@example.com has the reader role (limited by the process that opened the connection: /home/alice/.local/bin/claude is not on the origin write allowlist)", nil},
		{"agent may read", withOrigin(ctxFor([]string{"writers", "pii-readers"}, "dev"), agent), "SELECT * FROM accounts", allow, "allowed for the reader role", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := check(t, e.Session(tt.ctx), tt.text, SCSOn)
			d := r.Decision
			got := allow
			switch {
			case r.NeedsApproval():
				got = hold
			case !r.Allowed():
				got = deny
			}
			if got != tt.want || !strings.Contains(d.Reason, tt.reason) {
				t.Fatalf("got %+v (approval %+v), want %v with reason containing %q", d, d.RequireApproval, tt.want, tt.reason)
			}
			if got == hold {
				want := &Approval{ApproverGroups: []string{"approvers"}, Reason: d.Reason, Timeout: 5 * time.Minute}
				if d.Allow || !reflect.DeepEqual(d.RequireApproval, want) {
					t.Fatalf("got %+v with approval %+v, want Allow false and %+v", d, d.RequireApproval, want)
				}
			}
			if got != deny && !reflect.DeepEqual(d.Mask, tt.mask) {
				t.Fatalf("got mask %v, want %v", d.Mask, tt.mask)
			}
			if got != deny && d.Masking() != (tt.mask != nil) {
				t.Fatalf("Masking() = %v with mask %v", d.Masking(), d.Mask)
			}
		})
	}
}

// TestPreparedApproval: PREPARE runs nothing and is allowed; the EXECUTE
// is held, and statements held for approval are recorded (they may run).
func TestPreparedApproval(t *testing.T) {
	e := mustEngine(t, Config{})
	s := e.Session(ctxFor([]string{"writers"}, "production"))
	ctx := context.Background()
	for _, tt := range []struct {
		text string
		hold bool
	}{
		{"PREPARE u AS UPDATE accounts SET balance = $1", false},
		{"EXECUTE u(0)", true},
		{"PREPARE u AS UPDATE accounts SET balance = $1 WHERE id = 1", false},
		{"EXECUTE u(0)", true}, // the first candidate may still hold the name
		{"PREPARE f AS UPDATE accounts SET balance = $1 WHERE id = 1", false},
		{"EXECUTE f(0)", false},
	} {
		r := check(t, s, tt.text, SCSOn)
		if r.NeedsApproval() != tt.hold || (!tt.hold && !r.Allowed()) {
			t.Fatalf("%q: got %+v, want held=%v", tt.text, r.Decision, tt.hold)
		}
	}
	// A named Parse held for approval is recorded.
	r, err := s.CheckParse(ctx, "p1", "DELETE FROM accounts", SCSOn)
	if err != nil || !r.NeedsApproval() {
		t.Fatalf("CheckParse: got %+v, %v; want held", r.Decision, err)
	}
	if r := check(t, s, "EXECUTE p1", SCSOn); !r.NeedsApproval() {
		t.Fatalf("EXECUTE p1: got %+v, want held", r.Decision)
	}
}

// TestMaskedDecisionsCached: decisions with masks are cached and shared
// like any other, mask included, and a hit does not allocate.
func TestMaskedDecisionsCached(t *testing.T) {
	obs := &counter{}
	e := mustEngine(t, Config{Data: piiData(), Observer: obs})
	s1 := e.Session(ctxFor([]string{"readers"}, "production"))
	s2 := e.Session(ctxFor([]string{"readers"}, "production"))
	r1 := check(t, s1, "SELECT ssn FROM customers WHERE id = 1", SCSOn)
	r2 := check(t, s1, "SELECT ssn FROM customers WHERE id = 2", SCSOn)
	r3 := check(t, s2, "SELECT ssn FROM customers WHERE id = 3", SCSOn)
	if !r1.Allowed() || r1.Cached || !r2.Cached || !r3.Cached || r2 != r3 {
		t.Fatalf("got cached %v, %v, %v (shared %v), want a fresh decision then one shared cached Result", r1.Cached, r2.Cached, r3.Cached, r2 == r3)
	}
	if !reflect.DeepEqual(r1.Decision.Mask, piiMask) || reflect.ValueOf(r3.Decision.Mask).Pointer() != reflect.ValueOf(r1.Decision.Mask).Pointer() {
		t.Fatalf("got masks %v and %v, want one shared %v", r1.Decision.Mask, r3.Decision.Mask, piiMask)
	}
	if n := obs.evals.Load(); n != 1 {
		t.Fatalf("%d evaluations, want 1", n)
	}
	if raceEnabled {
		return // allocation counts are not meaningful under the race detector
	}
	i := 0
	texts := pgbenchTexts(64)
	check(t, s1, texts[0], SCSOn)
	if allocs := testing.AllocsPerRun(200, func() {
		i++
		if r, _ := s1.Check(context.Background(), texts[i&63], SCSOn); !r.Cached || !r.Decision.Masking() {
			t.Fatal("want a cached decision with a mask")
		}
	}); allocs != 0 {
		t.Fatalf("a cache hit with a mask allocates %.1f times, want 0", allocs)
	}
}

// TestBadMaskConfigFailsClosed: a column rule in the configuration that
// the engine cannot read denies the statements of users it would mask,
// and only theirs.
func TestBadMaskConfigFailsClosed(t *testing.T) {
	e := mustEngine(t, Config{Data: map[string]any{
		"columns": map[string]any{
			"public.customers.ssn": map[string]any{"tags": []any{"pii"}, "mask": map[string]any{"strategy": "scramble"}},
		},
		"approval": map[string]any{"timeout": "soon"},
	}})
	r := check(t, e.Session(ctxFor([]string{"readers"}, "dev")), "SELECT name FROM customers", SCSOn)
	if r.Allowed() || r.NeedsApproval() || !strings.Contains(r.Decision.Reason, `column public.customers.ssn: unknown strategy "scramble"`) {
		t.Fatalf("masked user: got %+v, want a denial naming the bad rule", r.Decision)
	}
	if r := check(t, e.Session(ctxFor([]string{"readers", "pii-readers"}, "dev")), "SELECT name FROM customers", SCSOn); !r.Allowed() {
		t.Fatalf("unmasked user: got %+v, want allowed", r.Decision)
	}
	r = check(t, e.Session(ctxFor([]string{"writers", "pii-readers"}, "production")), "DELETE FROM accounts", SCSOn)
	if r.Allowed() || r.NeedsApproval() || !strings.Contains(r.Decision.Reason, `"soon" is not a duration`) {
		t.Fatalf("bad approval timeout: got %+v, want a denial", r.Decision)
	}
}
