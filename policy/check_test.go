package policy

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

func check(t testing.TB, s *Session, text string, scs SCS) *Result {
	t.Helper()
	r, err := s.Check(context.Background(), text, scs)
	if err != nil {
		t.Fatalf("Check(%q): %v", text, err)
	}
	if r == nil {
		t.Fatalf("Check(%q) returned a nil Result", text)
	}
	return r
}

// TestCheckDecisions checks whole query texts with the default policy.
func TestCheckDecisions(t *testing.T) {
	e := mustEngine(t, Config{})
	tests := []struct {
		name   string
		groups []string
		env    string
		text   string
		scs    SCS
		allow  bool
		reason string
		stmts  int
	}{
		{"select", []string{"readers"}, "production", "SELECT abalance FROM pgbench_accounts WHERE aid = 42", SCSOn, true, "", 1},
		{"empty", []string{"readers"}, "production", "  -- nothing\n", SCSOn, true, "empty query", 0},
		{"parse error", []string{"admins"}, "dev", "SELEKT 1", SCSOn, false, "statement could not be parsed", 1},
		{"second statement denied", []string{"readers"}, "dev", "SELECT 1; DELETE FROM t WHERE id = 1", SCSOn, false, "delete statements need the writer role", 2},
		{"unfiltered delete on production", []string{"writers"}, "production", "DELETE FROM accounts", SCSOn, false, "DELETE without WHERE on production needs approval by approvers", 1},
		{"delete with where on production", []string{"writers"}, "production", "DELETE FROM accounts WHERE id = 7", SCSOn, true, "", 1},
		{"truncate on production", []string{"admins"}, "production", "TRUNCATE accounts", SCSOn, false, "TRUNCATE TABLE is not allowed on production", 1},
		{"drop on production", []string{"admins"}, "production", "DROP TABLE accounts", SCSOn, false, "DROP TABLE is not allowed on production", 1},
		{"set role", []string{"writers"}, "dev", "SET ROLE postgres", SCSOn, false, "role_change statements need the admin role", 1},
		{"set_config", []string{"writers"}, "dev", "SELECT set_config('role', 'postgres', false)", SCSOn, false, "set_config", 1},
		{"search_path", []string{"writers"}, "dev", "SET search_path TO evil, public", SCSOn, false, "search_path", 1},
		{"show search_path", []string{"readers"}, "dev", "SHOW search_path", SCSOn, true, "", 1},
		{"dblink", []string{"writers"}, "dev", "SELECT * FROM dblink('host=x', 'select 1') AS t(a int)", SCSOn, false, "function dblink is not allowed", 1},
		{"query_to_xml", []string{"readers"}, "dev", "SELECT query_to_xml('select * from secrets', true, false, '')", SCSOn, false, "function query_to_xml", 1},
		{"copy program", []string{"admins"}, "dev", "COPY t FROM PROGRAM 'id'", SCSOn, false, "file or program", 1},
		{"copy stdout", []string{"readers"}, "dev", "COPY t TO STDOUT", SCSOn, true, "", 1},
		{"do", []string{"writers"}, "dev", "DO $$ BEGIN END $$", SCSOn, false, "procedural", 1},
		{"transaction", []string{"readers"}, "dev", "BEGIN; SELECT 1; COMMIT", SCSOn, true, "", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := check(t, e.Session(ctxFor(tt.groups, tt.env)), tt.text, tt.scs)
			if r.Allowed() != tt.allow || !strings.Contains(r.Decision.Reason, tt.reason) {
				t.Fatalf("got %+v, want allow=%v with reason containing %q", r.Decision, tt.allow, tt.reason)
			}
			if len(r.Statements) != tt.stmts {
				t.Fatalf("got %d statements, want %d", len(r.Statements), tt.stmts)
			}
			for i, c := range r.Statements {
				if c.Index != i {
					t.Fatalf("statement %d has index %d", i, c.Index)
				}
				if !c.Decision.Allow && c.Decision.Reason == "" {
					t.Fatalf("statement %d denied without a reason", i)
				}
				if c.Statement != nil && c.Statement.Text != "" {
					t.Fatalf("statement %d has Text %q, want it cleared", i, c.Statement.Text)
				}
			}
		})
	}
}

// TestCacheHitWithDifferentConstants: a pgbench-like statement with a new
// constant each time is analysed and evaluated once per context.
func TestCacheHitWithDifferentConstants(t *testing.T) {
	obs := &counter{}
	e := mustEngine(t, Config{Observer: obs})
	s := e.Session(ctxFor([]string{"readers"}, "production"))
	first := check(t, s, "SELECT abalance FROM pgbench_accounts WHERE aid = 1;", SCSOn)
	if first.Cached || !first.Allowed() {
		t.Fatalf("first check: got cached=%v allowed=%v, want a fresh allow", first.Cached, first.Allowed())
	}
	var prev *Result
	for i := 2; i < 50; i++ {
		r := check(t, s, fmt.Sprintf("SELECT abalance FROM pgbench_accounts WHERE aid = %d;", i*7919), SCSOn)
		if !r.Cached || !r.Allowed() {
			t.Fatalf("check %d: got cached=%v allowed=%v, want a cached allow", i, r.Cached, r.Allowed())
		}
		if prev != nil && r != prev {
			t.Fatal("memo hits returned different Results")
		}
		prev = r
	}
	if got := obs.evals.Load(); got != 1 {
		t.Fatalf("%d evaluations, want 1", got)
	}
	// The same text under SCSOff and SCSUnknown shares the entry.
	if r := check(t, s, "SELECT abalance FROM pgbench_accounts WHERE aid = 3;", SCSUnknown); !r.Cached {
		t.Fatal("SCSUnknown: want a cache hit for a text that lexes the same either way")
	}
	if r := check(t, s, "SELECT abalance FROM pgbench_accounts WHERE aid = 3;", SCSOff); !r.Cached {
		t.Fatal("SCSOff: want a cache hit")
	}

	// A second session with an identical context shares the decision.
	s2 := e.Session(ctxFor([]string{"readers"}, "production"))
	if r := check(t, s2, "SELECT abalance FROM pgbench_accounts WHERE aid = 99;", SCSOn); !r.Cached {
		t.Fatal("identical context: want a shared decision")
	}
	if got := obs.hits[cacheIndex(CacheDecision)].Load(); got != 1 {
		t.Fatalf("%d decision cache hits, want 1", got)
	}
	// A different context re-evaluates but reuses the analysis.
	analysisHits := obs.hits[cacheIndex(CacheAnalysis)].Load()
	s3 := e.Session(ctxFor([]string{"writers"}, "production"))
	if r := check(t, s3, "SELECT abalance FROM pgbench_accounts WHERE aid = 5;", SCSOn); r.Cached {
		t.Fatal("different context: got a cached decision")
	}
	if got := obs.evals.Load(); got != 2 {
		t.Fatalf("%d evaluations, want 2", got)
	}
	if got := obs.hits[cacheIndex(CacheAnalysis)].Load(); got != analysisHits+1 {
		t.Fatalf("analysis cache hits %d, want %d", got, analysisHits+1)
	}
}

// TestNoSharedDecisionForAdversarialVariants: texts crafted to look like
// a cached allowed statement must be decided on their own, whatever is in
// the caches and whatever the session's standard_conforming_strings.
func TestNoSharedDecisionForAdversarialVariants(t *testing.T) {
	e := mustEngine(t, Config{})
	s := e.Session(ctxFor([]string{"readers"}, "production"))
	for _, scs := range []SCS{SCSOn, SCSOff, SCSUnknown} {
		for _, prime := range []string{"SELECT 'x'", "SELECT 'x' ", "SELECT 1", "SELECT 'x'; SELECT 'y'", "SELECT 'x' -- c"} {
			if r := check(t, s, prime, scs); !r.Allowed() {
				t.Fatalf("priming %q (scs %v): got %+v", prime, scs, r.Decision)
			}
		}
	}
	tests := []struct {
		text string
		scs  SCS
	}{
		{`SELECT '' ; DROP TABLE t; --'`, SCSOn},
		{`SELECT '' ; DROP TABLE t; --'`, SCSOff},
		{`SELECT '' ; DROP TABLE t; --'`, SCSUnknown},
		{`SELECT 'x'; DROP TABLE t`, SCSOn},
		{`SELECT 'x'/**/; DROP TABLE t`, SCSOn},
		{`SELECT 'x' /* '; */ ; DROP TABLE t`, SCSOn},
		{`SELECT 'a\'; DROP TABLE t; --'`, SCSOn},
		{`SELECT 'a\'; DROP TABLE t; --'`, SCSUnknown},
		{`SELECT 'a\''; DROP TABLE t; --'`, SCSOff},
		{`SELECT 'a\''; DROP TABLE t; --'`, SCSUnknown},
		{`SELECT E'\''; DROP TABLE t; --'`, SCSOn},
		{`SELECT $$x$$; DROP TABLE t`, SCSOn},
		{`SELECT $q$'$q$; DROP TABLE t; --'`, SCSOn},
		{`SELECT 'x'` + "\n" + `; DROP TABLE t`, SCSOn},
		{`SELECT 'x' 'y'; DROP TABLE t`, SCSOn},
		{`SELECT 1; DELETE FROM t WHERE id = 1`, SCSOn},
		{`SELECT 1e1; DELETE FROM t WHERE id = 1`, SCSOn},
		{`SELECT "x'"; DROP TABLE t; --'`, SCSOn},
		{`SELECT U&'x' UESCAPE '!'; DROP TABLE t`, SCSOn},
		{"SELECT 'x'\r; DROP TABLE t", SCSOn},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%v", tt.text, tt.scs), func(t *testing.T) {
			r, _ := s.Check(context.Background(), tt.text, tt.scs)
			if r.Allowed() {
				t.Fatalf("allowed %q under scs %v: %+v", tt.text, tt.scs, r.Decision)
			}
			// Checked twice: the memo must not turn it into an allow.
			if r, _ := s.Check(context.Background(), tt.text, tt.scs); r.Allowed() {
				t.Fatalf("allowed on the second check")
			}
		})
	}
	// The benign reading is allowed where it is the real one.
	if r := check(t, s, `SELECT 'a\''; DROP TABLE t; --'`, SCSOn); !r.Allowed() || len(r.Statements) != 1 {
		t.Fatalf("scs on: got %+v with %d statements, want one allowed SELECT", r.Decision, len(r.Statements))
	}
	if r := check(t, s, `SELECT 'a\'; DROP TABLE t; --'`, SCSOff); !r.Allowed() || len(r.Statements) != 1 {
		t.Fatalf("scs off: got %+v with %d statements, want one allowed SELECT", r.Decision, len(r.Statements))
	}
}

func TestSCSUnknownParsesBoth(t *testing.T) {
	e := mustEngine(t, Config{})
	s := e.Session(ctxFor([]string{"readers"}, "dev"))
	// Valid with standard_conforming_strings on, unterminated with it off.
	text := `SELECT 'a\'`
	if r := check(t, s, text, SCSOn); !r.Allowed() {
		t.Fatalf("on: got %+v", r.Decision)
	}
	r := check(t, s, text, SCSUnknown)
	if r.Allowed() || !strings.Contains(r.Decision.Reason, "could not be parsed (with standard_conforming_strings off)") {
		t.Fatalf("unknown: got %+v, want a parse denial under off", r.Decision)
	}

	// One statement either way, harmless with the setting on, calling
	// pg_read_file with it off.
	text = `SELECT '\' AS a, ' AS b, pg_read_file(b) AS c --'`
	if r := check(t, s, text, SCSOn); !r.Allowed() {
		t.Fatalf("on: got %+v", r.Decision)
	}
	if r := check(t, s, text, SCSOff); r.Allowed() {
		t.Fatal("off: pg_read_file allowed")
	}
	r = check(t, s, text, SCSUnknown)
	if r.Allowed() || !strings.Contains(r.Decision.Reason, "function pg_read_file is not allowed for the reader role (with standard_conforming_strings off)") {
		t.Fatalf("unknown: got %+v, want the reading with the setting off denied", r.Decision)
	}
}

// TestCacheClearedOnReload: decisions are not reused across a reload, in
// the memo or the shared cache.
func TestCacheClearedOnReload(t *testing.T) {
	dir := policyDir(t, allowAll)
	obs := &counter{}
	e := mustEngine(t, Config{Paths: []string{dir}, Observer: obs})
	s := e.Session(ctxFor(nil, "dev"))
	other := e.Session(ctxFor(nil, "dev"))
	check(t, s, "SELECT 1", SCSOn)
	if r := check(t, s, "SELECT 2", SCSOn); !r.Cached || !r.Allowed() {
		t.Fatalf("memo: got %+v cached=%v, want a cached allow", r.Decision, r.Cached)
	}
	if r := check(t, other, "SELECT 3", SCSOn); !r.Cached || !r.Allowed() {
		t.Fatalf("shared: got %+v cached=%v, want a cached allow", r.Decision, r.Cached)
	}
	writePolicy(t, dir, "policy.rego", denyAll)
	if err := e.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := e.decisions.Len(); n != 0 {
		t.Fatalf("decision cache holds %d entries after reload, want 0", n)
	}
	// Both sessions have the old decision in their memo.
	if r := check(t, s, "SELECT 4", SCSOn); r.Cached || r.Allowed() || r.Decision.Reason != "all denied" {
		t.Fatalf("after reload: got %+v cached=%v, want a fresh deny", r.Decision, r.Cached)
	}
	if r := check(t, other, "SELECT 5", SCSOn); r.Allowed() || r.Decision.Reason != "all denied" {
		t.Fatalf("after reload: got %+v, want a deny", r.Decision)
	}
	if got := obs.evals.Load(); got != 2 {
		t.Fatalf("%d evaluations, want 2 (one per policy)", got)
	}
}

// TestRecheck: a prepared statement's earlier answer is reused only while
// it is a cached answer of the current policy. The session memo holds one
// text, and another text has taken it, so only a reuse answers without
// going to the shared decision cache.
func TestRecheck(t *testing.T) {
	const text = "SELECT * FROM t WHERE id = $1"
	cached := func(t *testing.T, s *Session) *Result {
		check(t, s, text, SCSOn)
		r := check(t, s, text, SCSOn)
		check(t, s, "SELECT 1", SCSOn)
		return r
	}
	for _, tc := range []struct {
		name string
		// prev returns what Recheck is given; change runs after it.
		prev   func(t *testing.T, s *Session) *Result
		change func(t *testing.T, e *Engine, dir string)
		reuse  bool
		allow  bool
		reason string
	}{
		{name: "cached answer of the current policy", prev: cached, reuse: true, allow: true},
		{name: "nothing before", prev: func(*testing.T, *Session) *Result { return nil }, allow: true},
		{name: "first answer, not cached", prev: func(t *testing.T, s *Session) *Result {
			r := check(t, s, text, SCSOn)
			check(t, s, "SELECT 1", SCSOn)
			return r
		}, allow: true},
		{name: "policy reloaded", prev: cached, reason: "all denied",
			change: func(t *testing.T, e *Engine, dir string) {
				writePolicy(t, dir, "policy.rego", denyAll)
				if err := e.Reload(context.Background()); err != nil {
					t.Fatal(err)
				}
			}},
		{name: "engine closed", prev: cached, reason: "policy engine is closed",
			change: func(t *testing.T, e *Engine, dir string) {
				if err := e.Close(); err != nil {
					t.Fatal(err)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := policyDir(t, allowAll)
			obs := &counter{}
			e := mustEngine(t, Config{Paths: []string{dir}, Observer: obs, SessionCacheSize: 1})
			s := e.Session(ctxFor(nil, "dev"))
			prev := tc.prev(t, s)
			if tc.change != nil {
				tc.change(t, e, dir)
			}
			session, shared := obs.hits[0].Load(), obs.hits[1].Load()+obs.misses[1].Load()
			r, _ := s.Recheck(context.Background(), prev, text, SCSOn)
			reused := obs.hits[0].Load() == session+1 && obs.hits[1].Load()+obs.misses[1].Load() == shared
			if reused != tc.reuse || tc.reuse && r != prev {
				t.Fatalf("reused the earlier answer: %v, want %v", reused, tc.reuse)
			}
			if r.Allowed() != tc.allow || tc.reason != "" && r.Decision.Reason != tc.reason {
				t.Fatalf("got %+v, want allow=%v reason %q", r.Decision, tc.allow, tc.reason)
			}
		})
	}
}

func TestCacheBounded(t *testing.T) {
	obs := &counter{}
	e := mustEngine(t, Config{CacheSize: 4, SessionCacheSize: 3, Observer: obs})
	s := e.Session(ctxFor([]string{"readers"}, "dev"))
	for round := 0; round < 2; round++ {
		for i := 0; i < 20; i++ {
			text := fmt.Sprintf("SELECT * FROM t%d WHERE id = %d", i, round)
			if r := check(t, s, text, SCSOn); !r.Allowed() {
				t.Fatalf("%q: got %+v", text, r.Decision)
			}
			if i%5 == 0 {
				if r := check(t, s, fmt.Sprintf("DELETE FROM t%d", i), SCSOn); r.Allowed() {
					t.Fatal("delete allowed for a reader")
				}
			}
			if a, d, m := e.analyses.Len(), e.decisions.Len(), len(s.memo); a > 4 || d > 4 || m > 3 {
				t.Fatalf("cache sizes analysis %d, decision %d, memo %d; want ≤ 4, 4, 3", a, d, m)
			}
		}
	}
	// Evicted entries were analysed and evaluated again.
	if got := obs.evals.Load(); got < 40 {
		t.Fatalf("%d evaluations, want at least 40 (nothing fits in the caches)", got)
	}
}

// TestNondeterministicPolicyNotCached: a policy that reads the clock is
// evaluated for every statement.
func TestNondeterministicPolicyNotCached(t *testing.T) {
	obs := &counter{}
	dir := policyDir(t, `package interlock

decision := {"allow": time.now_ns() > 0, "reason": "clock"}
`)
	e := mustEngine(t, Config{Paths: []string{dir}, Observer: obs})
	if got := e.cur.Load().volatile; got != "time.now_ns" {
		t.Fatalf("volatile builtin %q, want time.now_ns", got)
	}
	s := e.Session(ctxFor(nil, "dev"))
	runSteps(t, s, []step{{"PREPARE p AS SELECT 1", true, ""}})
	for i := range 3 {
		if r := check(t, s, fmt.Sprintf("SELECT %d", i), SCSOn); r.Cached || !r.Allowed() {
			t.Fatalf("got %+v cached=%v, want an uncached allow", r.Decision, r.Cached)
		}
		runSteps(t, s, []step{{"EXECUTE p", true, ""}})
	}
	if got := obs.evals.Load(); got != 7 {
		t.Fatalf("%d evaluations, want 7", got)
	}
	// A deterministic policy is cached.
	if v := mustEngine(t, Config{}).cur.Load().volatile; v != "" {
		t.Fatalf("default policy: volatile builtin %q", v)
	}
}

// TestLongTextsNotCached: texts over MaxCachedText are decided every time
// and never enter the caches.
func TestLongTextsNotCached(t *testing.T) {
	e := mustEngine(t, Config{MaxCachedText: 64})
	s := e.Session(ctxFor([]string{"readers"}, "dev"))
	long := "SELECT a FROM t WHERE b = 1 AND c = 2 AND d = 3 AND e = 4 AND f = 5 AND g = 6"
	for range 2 {
		if r := check(t, s, long, SCSOn); r.Cached || !r.Allowed() {
			t.Fatalf("got %+v cached=%v, want an uncached allow", r.Decision, r.Cached)
		}
	}
	if n := e.analyses.Len() + e.decisions.Len() + len(s.memo); n != 0 {
		t.Fatalf("caches hold %d entries, want 0", n)
	}
	if r := check(t, s, "SELECT 1", SCSOn); r.Cached {
		t.Fatal("first short text cached")
	}
	if r := check(t, s, "SELECT 2", SCSOn); !r.Cached {
		t.Fatal("short text not cached")
	}
}
