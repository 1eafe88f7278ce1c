package analysis

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// FuzzAnalyze checks that Analyze never panics and that what it returns is
// well formed.
func FuzzAnalyze(f *testing.F) {
	for _, s := range []string{
		"SELECT abalance FROM pgbench_accounts WHERE aid = 123;",
		`SELECT 'a\' ; DROP TABLE t; --'`,
		`SELECT 'x\', $$'; DROP TABLE t; --$$`,
		"WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d",
		"WITH RECURSIVE r AS (SELECT 1 UNION SELECT * FROM r) SELECT * FROM r",
		"EXPLAIN (ANALYZE 0) UPDATE t SET a = 1",
		"COPY (SELECT 1) TO ''",
		"COPY t FROM PROGRAM 'x'",
		"PREPARE p AS INSERT INTO t VALUES ($1) ON CONFLICT DO NOTHING",
		"CREATE SCHEMA AUTHORIZATION bob CREATE TABLE t (a int)",
		"MERGE INTO t USING s ON true WHEN MATCHED THEN DELETE",
		"SET ROLE admin; RESET ALL; DISCARD ALL",
		"SELECT set_config('role', 'x', false)",
		"CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; END",
		"ALTER TABLE p ATTACH PARTITION q FOR VALUES IN (1)",
		"DROP TABLE a.b.c, d",
		"SELECT U&'d\\0061t' UESCAPE '\\'",
		"SELECT ((((((((((1))))))))))",
		"SELECT * FROM (a JOIN b USING (k)) JOIN c USING (k) NATURAL JOIN d",
		"SELECT x.* FROM t, LATERAL (SELECT t.a) x(a) ORDER BY 1",
		"WITH RECURSIVE r(a, b) AS (SELECT 1, 2 UNION SELECT b, a FROM r) SELECT * FROM r",
		"SELECT row_to_json(c), (c).*, c FROM customers c WINDOW w AS (w)",
		"SELECT sum(x) OVER w FROM t WINDOW w AS (v), v AS (w)",
		"UPDATE t SET (a, b) = (SELECT 1, 2) FROM u RETURNING *, t, u.*",
		"MERGE INTO t USING u ON true WHEN MATCHED THEN UPDATE SET a = u.b RETURNING *",
		"INSERT INTO t AS x VALUES (1) ON CONFLICT (a) DO UPDATE SET a = excluded.a RETURNING x.*",
		"DECLARE c CURSOR FOR SELECT 1; FETCH c; EXECUTE p((SELECT 1))",
		"SELECT * FROM ROWS FROM (f() AS (a int), g()) WITH ORDINALITY AS r(x)",
		"SELECT a.b.c.d.e FROM a",
	} {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, text string, scs bool) {
		sts, err := Analyze(text, Options{StandardConformingStrings: scs})
		if err != nil {
			if !errors.Is(err, ErrParse) {
				t.Fatalf("Analyze(%q): error %v does not wrap ErrParse", text, err)
			}
			return
		}
		for _, st := range sts {
			if len(st.Kinds) == 0 || !slices.IsSorted(st.Kinds) {
				t.Errorf("Analyze(%q): kinds %v", text, st.Kinds)
			}
			for _, l := range [][]string{st.TablesRead, st.TablesWritten, st.Functions, st.Settings} {
				if l == nil || !slices.IsSorted(l) || len(slices.Compact(slices.Clone(l))) != len(l) {
					t.Errorf("Analyze(%q): list %v is not a sorted set", text, l)
				}
			}
			for _, l := range [][]string{st.Filters, st.Copied} {
				if l == nil || !slices.IsSorted(l) || len(slices.Compact(slices.Clone(l))) != len(l) {
					t.Errorf("Analyze(%q): list %v is not a sorted set", text, l)
				}
			}
			if st.Output == nil {
				t.Errorf("Analyze(%q): nil output", text)
			}
			for _, c := range append(slices.Clone(st.Output), st.ExecuteArgs...) {
				for _, l := range [][]string{c.Sources, c.WholeRow} {
					if !slices.IsSorted(l) || len(slices.Compact(slices.Clone(l))) != len(l) {
						t.Errorf("Analyze(%q): output list %v is not a sorted set", text, l)
					}
				}
				if c.Unknown != (c.Why != "") {
					t.Errorf("Analyze(%q): output column unknown %v with reason %q", text, c.Unknown, c.Why)
				}
			}
			if !strings.Contains(text, st.Text) {
				t.Errorf("Analyze(%q): text %q is not part of the input", text, st.Text)
			}
		}
	})
}
