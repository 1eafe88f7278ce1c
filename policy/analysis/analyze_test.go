package analysis

import (
	"encoding/json"
	"errors"
	"reflect"
	"runtime"
	"strings"
	"testing"

	pg_query "github.com/pganalyze/pg_query_go/v6"
)

var scsOn = Options{StandardConformingStrings: true}

// want is the expected analysis of one statement; nil slices mean empty.
type want struct {
	Kinds          []Kind
	Command        string
	Read, Written  []string
	Unfiltered     bool
	Functions      []string
	Settings       []string
	Explain        bool
	ExplainAnalyze bool
	Prepare        string
	Execute        string
	Deallocate     string
	CopyExternal   bool
	Text           string // checked when not empty
}

func (w want) statement() Statement {
	orEmpty := func(s []string) []string {
		if s == nil {
			return []string{}
		}
		return s
	}
	return Statement{
		Kinds: w.Kinds, Command: w.Command,
		TablesRead: orEmpty(w.Read), TablesWritten: orEmpty(w.Written),
		UnfilteredWrite: w.Unfiltered, Functions: orEmpty(w.Functions), Settings: orEmpty(w.Settings),
		Explain: w.Explain, ExplainAnalyze: w.ExplainAnalyze,
		Prepare: w.Prepare, Execute: w.Execute, Deallocate: w.Deallocate,
		CopyExternal: w.CopyExternal,
	}
}

// withoutText returns a copy of st without the fields that may depend on
// the text: Text and Fingerprint. The provenance fields are left out too:
// provenance_test.go checks them.
func withoutText(st *Statement) Statement {
	c := *st
	c.Text, c.Fingerprint = "", ""
	c.Output, c.Filters, c.Copied, c.Declare, c.Fetch, c.ExecuteArgs = nil, nil, nil, "", "", nil
	return c
}

func mustAnalyze(tb testing.TB, text string, opts Options) []*Statement {
	tb.Helper()
	sts, err := Analyze(text, opts)
	if err != nil {
		tb.Fatalf("Analyze(%q): %v", text, err)
	}
	return sts
}

func checkAnalysis(t *testing.T, text string, opts Options, wants ...want) {
	t.Helper()
	sts := mustAnalyze(t, text, opts)
	if len(sts) != len(wants) {
		t.Fatalf("Analyze(%q): got %d statements, want %d", text, len(sts), len(wants))
	}
	for i, w := range wants {
		got, exp := withoutText(sts[i]), w.statement()
		if !reflect.DeepEqual(got, exp) {
			gj, _ := json.Marshal(got)
			ej, _ := json.Marshal(exp)
			t.Errorf("Analyze(%q)[%d]:\n got  %s\n want %s", text, i, gj, ej)
		}
		if len(sts[i].Fingerprint) != 16 {
			t.Errorf("Analyze(%q)[%d]: fingerprint %q, want 16 hex digits", text, i, sts[i].Fingerprint)
		}
		if w.Text != "" && sts[i].Text != w.Text {
			t.Errorf("Analyze(%q)[%d]: text %q, want %q", text, i, sts[i].Text, w.Text)
		}
	}
}

type analysisCase struct {
	name string
	text string
	want want
}

func runCases(t *testing.T, cases []analysisCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { checkAnalysis(t, c.text, scsOn, c.want) })
	}
}

func TestAnalyzeStandardConformingStrings(t *testing.T) {
	sel := want{Kinds: []Kind{KindSelect}, Command: "SELECT"}
	drop := want{Kinds: []Kind{KindDDL}, Command: "DROP TABLE", Written: []string{"public.t"}}
	t.Run("backslash quote, scs off", func(t *testing.T) {
		checkAnalysis(t, `SELECT 'a\' ; DROP TABLE t; --'`, Options{}, sel)
	})
	t.Run("backslash quote, scs on", func(t *testing.T) {
		checkAnalysis(t, `SELECT 'a\' ; DROP TABLE t; --'`, scsOn, sel, drop)
	})
	t.Run("dollar quote, scs on", func(t *testing.T) {
		checkAnalysis(t, `SELECT 'x\', $$'; DROP TABLE t; --$$`, scsOn, sel)
	})
	t.Run("dollar quote, scs off", func(t *testing.T) {
		checkAnalysis(t, `SELECT 'x\', $$'; DROP TABLE t; --$$`, Options{}, sel, drop)
	})
	t.Run("E string is the same either way", func(t *testing.T) {
		checkAnalysis(t, `SELECT E'a\' ; DROP TABLE t; --'`, scsOn, sel)
		checkAnalysis(t, `SELECT E'a\' ; DROP TABLE t; --'`, Options{}, sel)
	})
	t.Run("COPY file name check follows scs", func(t *testing.T) {
		// With scs off the string runs to the last quote and the file is
		// ''; a scanner with scs on would see STDOUT.
		copyTo := want{Kinds: []Kind{KindCopyTo, KindSelect}, Command: "COPY", CopyExternal: true}
		checkAnalysis(t, `COPY (SELECT 'x\') TO stdout --') TO ''`, Options{}, copyTo)
	})
}

func TestAnalyzeSplitsStatements(t *testing.T) {
	checkAnalysis(t, "SELECT 1; UPDATE t SET a = 1;\n-- done", scsOn,
		want{Kinds: []Kind{KindSelect}, Command: "SELECT", Text: "SELECT 1"},
		want{Kinds: []Kind{KindUpdate}, Command: "UPDATE", Written: []string{"public.t"}, Unfiltered: true,
			Text: " UPDATE t SET a = 1"},
	)
	checkAnalysis(t, "", scsOn)
	checkAnalysis(t, "-- nothing\n;;", scsOn)
}

func TestAnalyzeErrors(t *testing.T) {
	for _, text := range []string{
		"SELEC 1",
		"SELECT 'unterminated",
		"SELECT 1\x00; DROP TABLE t",
		"SELECT (",
		"SELECT 1 /* unterminated",
	} {
		for _, opts := range []Options{scsOn, {}} {
			sts, err := Analyze(text, opts)
			if !errors.Is(err, ErrParse) {
				t.Errorf("Analyze(%q, %+v): got %v, %v; want an error wrapping ErrParse", text, opts, sts, err)
			}
		}
	}
	_, err := Analyze("SELECT * FROM", scsOn)
	var pe *ParseError
	if !errors.As(err, &pe) || pe.Position != 14 || !strings.Contains(pe.Message, "syntax error") {
		t.Errorf("got %#v, want a syntax error at position 14", err)
	}
}

func TestAnalyzeNeverHoldsConstants(t *testing.T) {
	const s, n = "zq9marker", "987654321"
	texts := []string{
		`SELECT * FROM t WHERE a = '` + s + `' AND b = ` + n,
		`INSERT INTO t VALUES ('` + s + `', ` + n + `)`,
		`UPDATE t SET a = '` + s + `' WHERE b = ` + n,
		`SET search_path = '` + s + `'`,
		`SET ROLE '` + s + `'`,
		`COPY t TO '` + s + `'`,
		`COPY t FROM PROGRAM '` + s + `'`,
		`EXPLAIN (FORMAT '` + s + `') SELECT ` + n,
		`NOTIFY c, '` + s + `'`,
		`PREPARE TRANSACTION '` + s + `'`,
		`FETCH ` + n + ` FROM c`,
		`SELECT set_config('` + s + `', '` + s + `', false)`,
		`COMMENT ON TABLE t IS '` + s + `'`,
		`CREATE ROLE r PASSWORD '` + s + `'`,
		`DO '` + s + `'`,
		`LOAD '` + s + `'`,
		`SELECT * FROM t LIMIT ` + n + ` OFFSET ` + n,
	}
	for _, text := range texts {
		for _, st := range mustAnalyze(t, text, scsOn) {
			b, err := json.Marshal(st)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(b), s) || strings.Contains(string(b), n) {
				t.Errorf("analysis of %q holds a constant: %s", text, b)
			}
		}
	}
}

func TestAnalyzeJSONHasEmptyLists(t *testing.T) {
	st := mustAnalyze(t, "BEGIN", scsOn)[0]
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{`"tables_read":[]`, `"tables_written":[]`, `"functions":[]`, `"settings":[]`, `"kinds":["transaction"]`} {
		if !strings.Contains(string(b), f) {
			t.Errorf("JSON %s: missing %s", b, f)
		}
	}
}

func BenchmarkAnalyzePgbenchSelect(b *testing.B) {
	const text = "SELECT abalance FROM pgbench_accounts WHERE aid = 48213;"
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Analyze(text, scsOn); err != nil {
			b.Fatal(err)
		}
	}
}

// TestAnalyzeRestoresScannerDefault: libpg_query leaves
// standard_conforming_strings off on the thread when a parse with it off
// fails; pg_query.Scan on that thread would then lex backslashes as escapes.
func TestAnalyzeRestoresScannerDefault(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for _, text := range []string{`SELE) 'a\' ; DROP TABLE t; --'`, `SELECT 'a\' ; DROP TABLE t; --'`} {
		_, _ = Analyze(text, Options{})
		res, err := pg_query.Scan(`SELECT 'a\' , '\'`)
		if err != nil {
			t.Fatalf("after Analyze(%q): scan: %v", text, err)
		}
		if tok := res.Tokens[1]; tok.Token != pg_query.Token_SCONST || tok.End != 11 {
			t.Errorf("after Analyze(%q): string token %v, want SCONST ending at 11 (scs on)", text, tok)
		}
	}
}
