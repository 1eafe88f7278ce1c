package policy

import (
	"context"
	"fmt"
	"reflect"
	"testing"
)

// TestInputPaths: what the policy can read is found, and anything that
// may read the input as a whole disables the refinement.
func TestInputPaths(t *testing.T) {
	tests := []struct {
		name string
		rule string
		want inputTree // nil: whole input
	}{
		{"paths", `decision := {"allow": input.user.sub == "a", "reason": input.endpoint.labels.environment}`,
			inputTree{"user": {"sub": {}}, "endpoint": {"labels": {"environment": {}}}}},
		{"iteration", `decision := {"allow": true, "reason": r} if { some g in input.user.groups; r := g }`,
			inputTree{"user": {"groups": {}}}},
		{"variable key", `decision := {"allow": true, "reason": x} if { some k; x := input.origin[k] }`,
			inputTree{"origin": {}}},
		{"shorter wins", `decision := {"allow": count(input.origin) > 0 , "reason": input.origin.comm}`,
			inputTree{"origin": {}}},
		{"import", "import input.origin as o\n\ndecision := {\"allow\": o.pid == 1, \"reason\": \"\"}",
			inputTree{"origin": {"pid": {}}}},
		{"whole as value", `decision := {"allow": true, "reason": x} if x := json.marshal(input)`, nil},
		{"object.get on input", `decision := {"allow": object.get(input, ["user", "sub"], "") == "", "reason": ""}`, nil},
		{"input bound to a variable", `decision := {"allow": x.user.sub == "", "reason": ""} if x := input`, nil},
		{"input in a key", `decision := {"allow": true, "reason": input.user[input.session.database]}`,
			inputTree{"user": {}, "session": {"database": {}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := mustEngine(t, Config{Paths: []string{policyDir(t, "package interlock\n\n"+tt.rule+"\n")}})
			got := e.cur.Load().reads
			if (got == nil) != (tt.want == nil) || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestInputTreeAdd(t *testing.T) {
	tr := inputTree{}
	tr.add([]string{"a", "b", "c"})
	tr.add([]string{"a", "d"})
	tr.add([]string{"x", "y"})
	tr.add([]string{"x"})
	tr.add([]string{"x", "z"})
	want := inputTree{"a": {"b": {"c": {}}, "d": {}}, "x": {}}
	if !reflect.DeepEqual(tr, want) {
		t.Fatalf("got %v, want %v", tr, want)
	}
	doc := map[string]any{"a": map[string]any{"b": map[string]any{"c": 1, "e": 2}, "d": "v", "f": 3}, "x": []any{1}, "q": 4}
	wantDoc := map[string]any{"a": map[string]any{"b": map[string]any{"c": 1}, "d": "v"}, "x": []any{1}}
	if got := tr.project(doc); !reflect.DeepEqual(got, wantDoc) {
		t.Fatalf("project: got %v, want %v", got, wantDoc)
	}
}

// TestDecisionsSharedAcrossUnreadFields: the default policy does not read
// origin.pid, so connections from different processes share decisions; a
// policy that reads it does not.
func TestDecisionsSharedAcrossUnreadFields(t *testing.T) {
	withPID := func(pid int) Context {
		c := ctxFor([]string{"readers"}, "dev")
		c.Origin = &Origin{PID: pid, Comm: "psql"}
		c.Session.ClientAddr = fmt.Sprintf("10.0.0.%d", pid%250)
		return c
	}
	pidPolicy := policyDir(t, `package interlock

decision := {"allow": input.origin.pid < 100, "reason": "pid too high"}
`)
	tests := []struct {
		name   string
		cfg    Config
		shared bool
	}{
		{"default policy", Config{}, true},
		{"policy reads origin.pid", Config{Paths: []string{pidPolicy}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := mustEngine(t, tt.cfg)
			first := check(t, e.Session(withPID(1)), "SELECT 1", SCSOn)
			second := check(t, e.Session(withPID(200)), "SELECT 2", SCSOn)
			if second.Cached != tt.shared {
				t.Fatalf("second session: cached=%v, want %v", second.Cached, tt.shared)
			}
			if !tt.shared && (first.Allowed() == second.Allowed()) {
				t.Fatalf("pid policy: got %v and %v, want the decisions to differ", first.Decision, second.Decision)
			}
		})
	}
}

// TestProjectionFollowsReload: after a reload to a policy that reads more
// of the input, sessions stop sharing on what it now reads.
func TestProjectionFollowsReload(t *testing.T) {
	dir := policyDir(t, allowAll)
	e := mustEngine(t, Config{Paths: []string{dir}})
	a := ctxFor(nil, "dev")
	b := ctxFor(nil, "dev")
	b.Session.Database = "other"
	sa, sb := e.Session(a), e.Session(b)
	check(t, sa, "SELECT 1", SCSOn)
	if r := check(t, sb, "SELECT 1", SCSOn); !r.Cached {
		t.Fatal("allow-all policy: want a shared decision")
	}
	writePolicy(t, dir, "policy.rego", `package interlock

decision := {"allow": input.session.database == "app", "reason": "wrong database"}
`)
	if err := e.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if r := check(t, sa, "SELECT 1", SCSOn); !r.Allowed() {
		t.Fatalf("database app: got %+v", r.Decision)
	}
	if r := check(t, sb, "SELECT 1", SCSOn); r.Allowed() || r.Decision.Reason != "wrong database" {
		t.Fatalf("database other: got %+v cached=%v, want denied", r.Decision, r.Cached)
	}
}
