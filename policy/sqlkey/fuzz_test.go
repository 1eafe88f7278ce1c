package sqlkey

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/interlock-dev/interlock/policy/analysis"
)

// fuzzSeeds are the benign and adversarial texts of the table tests plus a
// few statements with literals in unusual places.
var fuzzSeeds = []string{
	"SELECT abalance FROM pgbench_accounts WHERE aid = 123;",
	"UPDATE pgbench_accounts SET abalance = abalance + -4321 WHERE aid = 7;",
	"INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (3, 1, 45, -100, CURRENT_TIMESTAMP);",
	`SELECT 'a\' ; DROP TABLE t; --'`,
	`SELECT 'x\', $$'; DROP TABLE t; --$$`,
	`SELECT E'a\' ; DROP TABLE t; --'`,
	"SELECT e/**/'a'",
	"SELECT $x$a$x$",
	"SELECT 1 /* /* */ 'x' */; DROP TABLE t; /* */",
	"SELECT 1 /* ' */ DROP TABLE t /* ' */",
	"SELECT 1 -- '\n; DROP TABLE t; -- '\n",
	"SELECT 1 -- '\r; DROP TABLE t; -- '\r",
	`SELECT U&'d!0061t' UESCAPE '!'`,
	`SELECT U&"d!0061t" UESCAPE '!'`,
	"SELECT 1 &'1'",
	"SELECT B'101', X'1F', N'x'",
	"SELECT 'a'\n'; DROP TABLE t; --'",
	"SELECT 'a'', ''b'",
	"SELECT 'a'; DROP TABLE t; SELECT ''",
	`SELECT "'", '1`,
	"SELECT 0x1F, 1_000, 1e, 1.2.3, 1..2, 12abc, .5, t.5",
	"SELECT 1--2",
	"SELECT 1+-2*/**/3",
	"SELECT a[1:2], b::numeric(10,2), c::float(24), d::varchar(3) FROM t LIMIT 5 OFFSET 2",
	"SELECT * FROM t ORDER BY 1 FETCH FIRST 3 ROWS ONLY",
	"FETCH 5 FROM c",
	"COPY t TO ''",
	"COPY t TO '/tmp/x'",
	"EXPLAIN (ANALYZE 0) DELETE FROM t",
	"EXPLAIN (ANALYZE 'off') DELETE FROM t",
	"SET search_path = 'a'",
	"SET ROLE 'admin'",
	"SELECT set_config('role', 'x', false)",
	"ALTER TABLE t ALTER COLUMN 1 SET STATISTICS 100",
	"CREATE TABLE t (a varchar(10) DEFAULT 'x', b numeric(5, 2))",
	"SELECT INTERVAL '1' YEAR, DATE '2020-01-01', 1e5, 99999999999999999999",
	"NOTIFY c, 'x'",
	"PREPARE TRANSACTION 'x'",
	"SELECT 'é', 'x' AS é",
}

// FuzzKey checks Append against PostgreSQL's lexer and parser: every
// replaced span is exactly one constant token of the right class, and a
// text whose literals are replaced by other literals has the same key and
// the same analysis (and, for same-type literals, the same tree shape).
func FuzzKey(f *testing.F) {
	stmts, err := os.ReadFile("testdata/statements.sql")
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range append(fuzzSeeds, strings.Split(strings.TrimSpace(string(stmts)), "\n")...) {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, text string, scs bool) {
		// A hang is a denial of service: report it as a failure with its input.
		timer := time.AfterFunc(10*time.Second, func() { panic(fmt.Sprintf("Append/Analyze took over 10s on %q (scs %v)", text, scs)) })
		defer timer.Stop()
		var spans []span
		k, ok := appendKey(nil, text, scs, &spans)
		if !ok {
			return
		}
		checkRebuild(t, text, string(k), spans)
		if !scs {
			// No backslash in any string: the lexing is the same with scs on.
			if k2, ok2 := Append(nil, text, true); !ok2 || string(k2) != string(k) {
				t.Fatalf("Append(%q): scs off %q, scs on %q, %v", text, k, k2, ok2)
			}
		}
		toks, err := pg_query.Scan(text)
		if err != nil {
			// The server refuses it too; still, every literal-substituted
			// variant must share the key.
			toks = nil
		} else {
			checkSpansAreTokens(t, text, spans, toks.Tokens)
		}
		for _, cross := range []bool{false, true} {
			text2 := substitute(text, spans, toks, cross)
			k2, ok2 := Append(nil, text2, scs)
			if !ok2 || string(k2) != string(k) {
				t.Fatalf("Append(%q) = %q but Append(%q) = %q, %v", text, k, text2, k2, ok2)
			}
			checkSameAnalysis(t, text, text2, scs, !cross)
		}
	})
}

// checkRebuild checks that the key is the text with each span replaced by
// its placeholder.
func checkRebuild(t *testing.T, text, key string, spans []span) {
	t.Helper()
	var b strings.Builder
	last := 0
	for _, s := range spans {
		b.WriteString(text[last:s.start])
		b.WriteByte(placeholder)
		b.WriteByte(s.class)
		last = s.end
	}
	b.WriteString(text[last:])
	if b.String() != key {
		t.Fatalf("Append(%q) = %q; spans %v rebuild %q", text, key, spans, b.String())
	}
}

func checkSpansAreTokens(t *testing.T, text string, spans []span, toks []*pg_query.ScanToken) {
	t.Helper()
	byStart := make(map[int]*pg_query.ScanToken, len(toks))
	for _, tok := range toks {
		byStart[int(tok.Start)] = tok
	}
	for _, s := range spans {
		tok := byStart[s.start]
		if tok == nil || int(tok.End) != s.end {
			t.Fatalf("Append(%q): replaced %q [%d,%d) is not one token (%v)", text, text[s.start:s.end], s.start, s.end, tok)
		}
		switch {
		case s.class == ClassString && tok.Token == pg_query.Token_SCONST:
		case s.class == ClassNumber && (tok.Token == pg_query.Token_ICONST || tok.Token == pg_query.Token_FCONST):
		default:
			t.Fatalf("Append(%q): replaced %q as class %c, but it lexes as %v", text, text[s.start:s.end], s.class, tok.Token)
		}
	}
}

// substitute replaces every span with a different literal of the same
// class. Numbers keep their token type (ICONST, FCONST), or swap it when
// cross is set: both share the number class.
func substitute(text string, spans []span, toks *pg_query.ScanResult, cross bool) string {
	isFloat := make(map[int]bool)
	if toks != nil {
		for _, tok := range toks.Tokens {
			isFloat[int(tok.Start)] = tok.Token == pg_query.Token_FCONST
		}
	}
	var b strings.Builder
	last := 0
	for _, s := range spans {
		b.WriteString(text[last:s.start])
		orig := text[s.start:s.end]
		var repl []string
		if s.class == ClassString {
			repl = []string{"'zq'", "'qz'"}
		} else {
			f, known := isFloat[s.start]
			if !known {
				f = strings.ContainsAny(orig, ".eE")
			}
			if f != cross {
				repl = []string{"7.5", "8.5"}
			} else {
				repl = []string{"7", "8"}
			}
		}
		if orig == repl[0] {
			b.WriteString(repl[1])
		} else {
			b.WriteString(repl[0])
		}
		last = s.end
	}
	b.WriteString(text[last:])
	return b.String()
}

// checkSameAnalysis checks that two texts that share a key analyse alike:
// the analysis, without Text and Fingerprint, is what the decision cache
// shares.
func checkSameAnalysis(t *testing.T, text1, text2 string, scs, sameType bool) {
	t.Helper()
	opts := analysis.Options{StandardConformingStrings: scs}
	a1, err1 := analysis.Analyze(text1, opts)
	a2, err2 := analysis.Analyze(text2, opts)
	if err1 != nil || err2 != nil {
		// A literal's value can make the grammar refuse it (float(0),
		// FETCH 1.5); the server refuses such a text as well.
		return
	}
	if len(a1) != len(a2) {
		t.Fatalf("%q has %d statements, %q has %d", text1, len(a1), text2, len(a2))
	}
	for i := range a1 {
		s1, s2 := *a1[i], *a2[i]
		s1.Text, s1.Fingerprint, s2.Text, s2.Fingerprint = "", "", "", ""
		j1, _ := json.Marshal(s1)
		j2, _ := json.Marshal(s2)
		if string(j1) != string(j2) {
			t.Fatalf("same key, different analysis:\n%q: %s\n%q: %s", text1, j1, text2, j2)
		}
	}
	if !sameType {
		return
	}
	// Append refused any text whose lexing depends on scs, so pg_query's
	// default (scs on) parses both as the session would.
	t1, err1 := pg_query.Parse(text1)
	t2, err2 := pg_query.Parse(text2)
	if err1 != nil || err2 != nil {
		return
	}
	if sh1, sh2 := shape(t1.ProtoReflect()), shape(t2.ProtoReflect()); sh1 != sh2 {
		t.Fatalf("same key, different tree shape:\n%q: %s\n%q: %s", text1, sh1, text2, sh2)
	}
}

// shape describes a tree by its messages and which message fields are set,
// ignoring every scalar (names, values, locations).
func shape(m protoreflect.Message) string {
	var b strings.Builder
	var walk func(m protoreflect.Message)
	walk = func(m protoreflect.Message) {
		b.WriteString(string(m.Descriptor().Name()))
		b.WriteByte('{')
		fds := m.Descriptor().Fields()
		for i := range fds.Len() {
			fd := fds.Get(i)
			if fd.Message() == nil || !m.Has(fd) {
				continue
			}
			fmt.Fprintf(&b, "%s:", fd.Name())
			if fd.IsList() {
				l := m.Get(fd).List()
				b.WriteByte('[')
				for j := range l.Len() {
					walk(l.Get(j).Message())
				}
				b.WriteByte(']')
			} else {
				walk(m.Get(fd).Message())
			}
		}
		b.WriteByte('}')
	}
	walk(m)
	return b.String()
}
