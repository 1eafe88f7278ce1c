package policy

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/interlock-dev/interlock/policy/analysis"
)

// TestDefaultPolicyDecisions decides hand-built statements through the
// engine with the embedded default policy and real OPA.
func TestDefaultPolicyDecisions(t *testing.T) {
	e := mustEngine(t, Config{Data: map[string]any{
		"groups": map[string]any{"readers": []string{"analysts"}},
	}})
	st := func(kinds []string, cmd string, f func(*analysis.Statement)) *analysis.Statement {
		s := &analysis.Statement{Kinds: kinds, Command: cmd}
		if f != nil {
			f(s)
		}
		return s
	}
	tests := []struct {
		name   string
		groups []string
		env    string
		stmt   *analysis.Statement
		allow  bool
		reason string // substring of the reason
	}{
		{"no groups at all", nil, "", sel(), false, "alice@example.com is in none of the groups"},
		{"reader select", []string{"analysts"}, "production", sel(), true, "allowed for the reader role"},
		{"default reader group replaced by data", []string{"readers"}, "dev", sel(), false, "in none of the groups"},
		{"reader insert", []string{"analysts"}, "dev", st([]string{"insert"}, "INSERT", nil), false, "insert statements need the writer role"},
		{"writer delete with where on production", []string{"writers"}, "production", st([]string{"delete"}, "DELETE", nil), true, ""},
		{"writer unfiltered delete on production", []string{"writers"}, "production", st([]string{"delete"}, "DELETE", func(s *analysis.Statement) { s.UnfilteredWrite = true }), false, "DELETE without WHERE on production needs approval by approvers"},
		{"writer unfiltered delete in dev", []string{"writers"}, "dev", st([]string{"delete"}, "DELETE", func(s *analysis.Statement) { s.UnfilteredWrite = true }), true, ""},
		{"admin drop on production", []string{"admins"}, "production", st([]string{"ddl"}, "DROP TABLE", nil), false, "DROP TABLE is not allowed on production, not even for admins"},
		{"admin drop in dev", []string{"admins"}, "dev", st([]string{"ddl"}, "DROP TABLE", nil), true, ""},
		{"writer set role", []string{"writers"}, "dev", st([]string{"role_change"}, "SET", func(s *analysis.Statement) { s.Settings = []string{"role"} }), false, "role_change statements need the admin role"},
		{"writer search_path", []string{"writers"}, "dev", st([]string{"set"}, "SET", func(s *analysis.Statement) { s.Settings = []string{"search_path"} }), false, "search_path"},
		{"writer dblink", []string{"writers"}, "dev", st([]string{"select"}, "SELECT", func(s *analysis.Statement) { s.Functions = []string{"dblink_exec"} }), false, "function dblink_exec is not allowed"},
		{"copy program", []string{"admins"}, "dev", st([]string{"copy_from"}, "COPY", func(s *analysis.Statement) { s.CopyExternal = true }), false, "file or program"},
		{"unknown kind", []string{"admins"}, "dev", st([]string{"mystery"}, "X", nil), false, `statement kind "mystery" is unknown`},
		{"nil kinds", []string{"admins"}, "dev", st(nil, "X", nil), false, "no kind"},
		{"do block", []string{"writers"}, "dev", st([]string{"procedural"}, "DO", nil), false, "procedural statements need the admin role"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ctxFor(tt.groups, tt.env)
			if tt.env == "" {
				c.Endpoint.Labels = nil
			}
			s := e.Session(c)
			d, err := s.Decide(context.Background(), tt.stmt)
			if err != nil {
				t.Fatalf("Decide: %v", err)
			}
			if d.Allow != tt.allow || !strings.Contains(d.Reason, tt.reason) {
				t.Fatalf("got %+v, want allow=%v with reason containing %q", d, tt.allow, tt.reason)
			}
			if !d.Allow && d.Reason == "" {
				t.Fatal("deny without a reason")
			}
		})
	}
}

// TestFailClosed checks that anything but a well-formed decision denies
// with a reason saying what went wrong.
func TestFailClosed(t *testing.T) {
	tests := []struct {
		name    string
		policy  string
		reason  string
		evalErr bool
	}{
		{"undefined", "package interlock\n\ndecision := {\"allow\": true} if input.nothing\n", "is undefined", false},
		{"string", "package interlock\n\ndecision := \"allow\"\n", "is not an object", false},
		{"allow not a boolean", "package interlock\n\ndecision := {\"allow\": \"true\", \"reason\": \"x\"}\n", `no boolean "allow"`, false},
		{"allow missing", "package interlock\n\ndecision := {\"reason\": \"x\"}\n", `no boolean "allow"`, false},
		{"reason not a string", "package interlock\n\ndecision := {\"allow\": true, \"reason\": 1}\n", `"reason" that is not a string`, false},
		{"deny without reason", "package interlock\n\ndecision := {\"allow\": false}\n", "gave no reason", false},
		{"conflict", "package interlock\n\ndecision := {\"allow\": true} if true\n\ndecision := {\"allow\": false} if true\n", "policy evaluation failed", true},
		{"builtin error", "package interlock\n\ndecision := {\"allow\": startswith(input.statement.kinds, \"s\")}\n", "policy evaluation failed", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obs := &counter{}
			e := mustEngine(t, Config{Paths: []string{policyDir(t, tt.policy)}, Observer: obs})
			d, err := e.Session(ctxFor(nil, "dev")).Decide(context.Background(), sel())
			if d.Allow || !strings.Contains(d.Reason, tt.reason) {
				t.Fatalf("got %+v, want a deny with reason containing %q", d, tt.reason)
			}
			if (err != nil) != tt.evalErr {
				t.Fatalf("got error %v, want error: %v", err, tt.evalErr)
			}
			if got := obs.evalErrs.Load(); (got > 0) != tt.evalErr {
				t.Fatalf("observer saw %d evaluation errors, want error: %v", got, tt.evalErr)
			}
		})
	}
}

func TestNewRejectsBadPolicy(t *testing.T) {
	tests := []struct {
		name   string
		cfg    Config
		reason string
	}{
		{"syntax error", Config{Paths: []string{policyDir(t, "package interlock\n\ndecision := {\n")}}, "load policy"},
		{"no decision rule", Config{Paths: []string{policyDir(t, "package other\n\ndecision := {\"allow\": true}\n")}}, "no rule defines data.interlock.decision"},
		{"no rego files", Config{Paths: []string{t.TempDir()}}, "no .rego files"},
		{"missing path", Config{Paths: []string{"/nonexistent/policy"}}, "load policy"},
		{"rego v0 syntax", Config{Paths: []string{policyDir(t, "package interlock\n\ndecision = {\"allow\": true} { true }\n")}}, "load policy"},
		{"bad query", Config{Query: "data.interlock.decision[", Paths: nil}, "not a reference"},
		{"negative cache size", Config{CacheSize: -1}, "cache size is negative"},
		{"negative session cache size", Config{SessionCacheSize: -1}, "session cache size is negative"},
		{"negative max cached text", Config{MaxCachedText: -1}, "max cached text is negative"},
		{"data not JSON", Config{Data: map[string]any{"f": func() {}}}, "encode policy data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Logger = quietLogger()
			e, err := New(context.Background(), tt.cfg)
			if err == nil {
				e.Close()
				t.Fatal("New succeeded, want an error")
			}
			if !strings.Contains(err.Error(), tt.reason) {
				t.Fatalf("got error %q, want it to contain %q", err, tt.reason)
			}
		})
	}
}

func TestCustomQueryAndData(t *testing.T) {
	dir := policyDir(t, `package acme

verdict := {"allow": input.user.sub in data.interlock_config.allowed, "reason": "not on the list"}
`)
	e := mustEngine(t, Config{Paths: []string{dir}, Query: "data.acme.verdict", Data: map[string]any{"allowed": []any{"u1"}}})
	d, err := e.Session(ctxFor(nil, "dev")).Decide(context.Background(), sel())
	if err != nil || !d.Allow {
		t.Fatalf("got %+v, %v; want allowed", d, err)
	}
	c := ctxFor(nil, "dev")
	c.User.Sub = "u2"
	if d, _ := e.Session(c).Decide(context.Background(), sel()); d.Allow || d.Reason != "not on the list" {
		t.Fatalf("got %+v, want denied: not on the list", d)
	}
}

func TestClose(t *testing.T) {
	e := mustEngine(t, Config{})
	s := e.Session(ctxFor([]string{"admins"}, "dev"))
	if r, err := s.Check(context.Background(), "SELECT 1", SCSOn); err != nil || !r.Allowed() {
		t.Fatalf("before Close: %+v, %v", r.Decision, err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	d, err := s.Decide(context.Background(), sel())
	if d.Allow || !errors.Is(err, ErrClosed) {
		t.Fatalf("after Close got %+v, %v; want a deny and ErrClosed", d, err)
	}
	if r, err := s.Check(context.Background(), "SELECT 2", SCSOn); r.Allowed() || !errors.Is(err, ErrClosed) {
		t.Fatalf("Check after Close: got %+v, %v; want a deny and ErrClosed", r.Decision, err)
	}
	if err := e.Reload(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Reload after Close: got %v, want ErrClosed", err)
	}
}
