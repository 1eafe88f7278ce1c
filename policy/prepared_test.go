package policy

import (
	"context"
	"strings"
	"testing"
)

func TestPrepareExecute(t *testing.T) {
	e := mustEngine(t, Config{})
	tests := []struct {
		name   string
		groups []string
		env    string
		steps  []step
	}{
		{"unknown name", []string{"admins"}, "dev", []step{
			{"EXECUTE nope", false, "was not prepared through interlock"},
		}},
		{"prepare then execute", []string{"writers"}, "production", []step{
			{"PREPARE q AS SELECT * FROM t WHERE id = $1", true, ""},
			{"EXECUTE q(1)", true, ""},
			{"EXECUTE q(2)", true, ""},
			{"EXECUTE q(pg_read_file('/etc/passwd'))", false, "function pg_read_file is not allowed"},
		}},
		{"statements that execute", []string{"readers"}, "dev", []step{
			{"PREPARE s AS SELECT * FROM t WHERE id = $1", true, ""},
			{"EXPLAIN ANALYZE EXECUTE s(1)", true, ""},
			{"CREATE TABLE x AS EXECUTE s(1)", false, "ddl statements need the admin role"},
		}},
		{"explain analyze executes", []string{"writers"}, "production", []step{
			{"PREPARE u AS UPDATE t SET a = $1 WHERE id = 1", true, ""},
			{"EXPLAIN ANALYZE EXECUTE u(1)", true, ""},
			{"CREATE TABLE x AS EXECUTE u(1)", false, "ddl statements need the admin role"},
		}},
		{"denied prepare is not recorded", []string{"writers"}, "production", []step{
			{"PREPARE d AS DELETE FROM t WHERE id = length(pg_read_file('/etc/passwd'))", false, "function pg_read_file is not allowed"},
			{"EXECUTE d", false, "was not prepared through interlock"},
		}},
		// PREPARE runs nothing; the EXECUTE is held for approval.
		{"prepared unfiltered delete", []string{"writers"}, "production", []step{
			{"PREPARE d AS DELETE FROM t", true, ""},
			{"EXECUTE d", false, "DELETE without WHERE on production needs approval by approvers"},
		}},
		{"reader prepares a delete", []string{"readers"}, "dev", []step{
			{"PREPARE d AS DELETE FROM t WHERE id = $1", false, "delete statements need the writer role"},
			{"EXECUTE d(1)", false, "was not prepared"},
		}},
		{"prepare and execute in one query", []string{"writers"}, "dev", []step{
			{"PREPARE p AS UPDATE t SET a = $1 WHERE id = 2; EXECUTE p(1)", true, ""},
		}},
		{"execute before prepare in one query", []string{"writers"}, "dev", []step{
			{"EXECUTE p(1); PREPARE p AS UPDATE t SET a = $1 WHERE id = 2", false, "was not prepared"},
		}},
		// DEALLOCATE may not have run (an earlier statement can fail), so
		// the old statement still counts for EXECUTE.
		{"re-prepare keeps the old candidate", []string{"writers"}, "production", []step{
			{"PREPARE r AS DELETE FROM t WHERE id = $1", true, ""},
			{"DEALLOCATE r", true, ""},
			{"PREPARE r AS SELECT * FROM t WHERE id = $1", true, ""},
			{"EXECUTE r(1)", true, ""},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := e.Session(ctxFor(tt.groups, tt.env))
			runSteps(t, s, tt.steps)
		})
	}
}

type step struct {
	text   string
	allow  bool
	reason string
}

func runSteps(t *testing.T, s *Session, steps []step) {
	t.Helper()
	for _, st := range steps {
		r, err := s.Check(context.Background(), st.text, SCSOn)
		if err != nil {
			t.Fatalf("%q: %v", st.text, err)
		}
		if r.Allowed() != st.allow || !strings.Contains(r.Decision.Reason, st.reason) {
			t.Fatalf("%q: got %+v, want allow=%v with reason containing %q", st.text, r.Decision, st.allow, st.reason)
		}
		for _, c := range r.Statements {
			if c.Statement == nil {
				continue
			}
			if c.Statement.Execute != "" && r.Cached {
				t.Fatalf("%q: an EXECUTE result came from a cache", st.text)
			}
			if c.Statement.Execute != "" && c.Decision.Allow && c.Prepared == nil {
				t.Fatalf("%q: allowed EXECUTE without its prepared statement", st.text)
			}
		}
	}
}

// TestExecuteFollowsPolicyChanges: EXECUTE is decided under the policy in
// force when it runs, against every statement that may hold the name.
func TestExecuteFollowsPolicyChanges(t *testing.T) {
	dir := policyDir(t, `package interlock

blocked := {t | some t in data.interlock_config.blocked}

decision := {"allow": false, "reason": sprintf("%s is blocked", [t])} if {
	some t in input.statement.tables_read
	t in blocked
} else := {"allow": true, "reason": "ok"}
`)
	e := mustEngine(t, Config{Paths: []string{dir}, Data: map[string]any{"blocked": []any{}}})
	s := e.Session(ctxFor(nil, "dev"))
	runSteps(t, s, []step{
		{"PREPARE r AS SELECT * FROM a", true, ""},
		{"EXECUTE r", true, ""},
		{"DEALLOCATE r", true, ""},
		{"PREPARE r AS SELECT * FROM b", true, ""},
		{"EXECUTE r", true, ""},
	})
	if err := e.SetData(context.Background(), map[string]any{"blocked": []any{"public.a"}}); err != nil {
		t.Fatal(err)
	}
	runSteps(t, s, []step{
		{"EXECUTE r", false, "public.a is blocked"},
		{"PREPARE x AS SELECT * FROM a", false, "public.a is blocked"},
	})
}

func TestCheckParse(t *testing.T) {
	e := mustEngine(t, Config{})
	w := e.Session(ctxFor([]string{"writers"}, "dev"))
	if r, err := w.CheckParse(context.Background(), "s1", "DELETE FROM t WHERE id = $1", SCSOn); err != nil || !r.Allowed() {
		t.Fatalf("CheckParse: %+v, %v", r.Decision, err)
	}
	runSteps(t, w, []step{{"EXECUTE s1(1)", true, ""}})

	rd := e.Session(ctxFor([]string{"readers"}, "dev"))
	if r, _ := rd.CheckParse(context.Background(), "s1", "DELETE FROM t WHERE id = $1", SCSOn); r.Allowed() {
		t.Fatal("reader Parse of a DELETE allowed")
	}
	runSteps(t, rd, []step{{"EXECUTE s1(1)", false, "was not prepared"}})
	// The unnamed statement is never recorded.
	if r, _ := rd.CheckParse(context.Background(), "", "SELECT 1", SCSOn); !r.Allowed() {
		t.Fatal("unnamed Parse denied")
	}
	runSteps(t, rd, []step{{`EXECUTE ""`, false, "could not be parsed"}})
}
