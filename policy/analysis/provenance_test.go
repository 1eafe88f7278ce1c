package analysis

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

const (
	ssnTable = "public.customers"
	ssn      = "public.customers.ssn"
)

// coversSSN reports whether an output entry may carry customers.ssn: it
// lists it, a whole customers row, a star over customers that keeps ssn,
// or is unknown.
func coversSSN(c OutputColumn) bool {
	if c.Unknown || slices.Contains(c.Sources, ssn) || slices.Contains(c.WholeRow, ssnTable) {
		return true
	}
	if s := c.Star; s != nil {
		for _, r := range append([]StarRef{{Table: s.Table, Except: s.Except}}, s.Union...) {
			if r.Table == ssnTable && !slices.Contains(r.Except, "ssn") {
				return true
			}
		}
	}
	return false
}

// filtersSSN reports whether a Filters or Copied list covers
// customers.ssn.
func filtersSSN(list []string) bool {
	return slices.Contains(list, ssn) || slices.Contains(list, ssnTable+".*") || slices.Contains(list, Unknown)
}

type evasion struct {
	name string
	text string
	// leak lists the output entries that carry ssn data; clean those that
	// must not (no over-masking).
	leak, clean []int
	filter      bool // ssn must be in Filters (a predicate probe)
	copied      bool // ssn must be in Copied
}

// TestProvenanceEvasions is the evasion corpus: statements trying to read
// customers.ssn under another name, through another construct, or bit by
// bit through a predicate. Every output column carrying ssn data must say
// so, and every probe must show ssn in Filters.
func TestProvenanceEvasions(t *testing.T) {
	cases := evasions
	if len(cases) < 40 {
		t.Fatalf("the corpus has %d cases, want at least 40", len(cases))
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st := mustAnalyze(t, c.text, scsOn)[0]
			js, _ := json.Marshal(st.Output)
			for _, i := range c.leak {
				if i >= len(st.Output) || !coversSSN(st.Output[i]) {
					t.Errorf("%q: output column %d does not cover %s: %s", c.text, i, ssn, js)
				}
			}
			for _, i := range c.clean {
				if i >= len(st.Output) || coversSSN(st.Output[i]) {
					t.Errorf("%q: output column %d covers %s, want it clean: %s", c.text, i, ssn, js)
				}
			}
			if got := filtersSSN(st.Filters); got != c.filter {
				t.Errorf("%q: filters %v, want ssn there: %v", c.text, st.Filters, c.filter)
			}
			if got := filtersSSN(st.Copied); got != c.copied {
				t.Errorf("%q: copied %v, want ssn there: %v", c.text, st.Copied, c.copied)
			}
		})
	}
}

var evasions = []evasion{
	{"plain", "SELECT id, ssn FROM customers", []int{1}, []int{0}, false, false},
	{"alias", "SELECT ssn AS x FROM customers", []int{0}, nil, false, false},
	{"table alias", "SELECT c.ssn AS x, c.name FROM customers c", []int{0}, []int{1}, false, false},
	{"schema qualified", "SELECT public.customers.ssn FROM public.customers", []int{0}, nil, false, false},
	{"catalog qualified", "SELECT c.ssn FROM mydb.public.customers c", []int{0}, nil, false, false},
	{"quoted identifier", `SELECT "ssn" FROM "customers"`, []int{0}, nil, false, false},
	{"cast", "SELECT ssn::bytea, CAST(ssn AS varchar(3)) FROM customers", []int{0, 1}, nil, false, false},
	{"concatenation", "SELECT 'x' || ssn || 'y' FROM customers", []int{0}, nil, false, false},
	{"substr", "SELECT substr(ssn, 1, 3), substring(ssn FROM 4 FOR 2) FROM customers", []int{0, 1}, nil, false, false},
	{"upper", "SELECT upper(ssn), lower(ssn), reverse(ssn) FROM customers", []int{0, 1, 2}, nil, false, false},
	{"md5", "SELECT md5(ssn), sha256(ssn::bytea), encode(ssn::bytea, 'hex') FROM customers", []int{0, 1, 2}, nil, false, false},
	{"format", "SELECT format('%s-%s', id, ssn), concat(ssn), concat_ws(',', name, ssn) FROM customers", []int{0, 1, 2}, nil, false, false},
	{"row_to_json", "SELECT row_to_json(c) FROM customers c", []int{0}, nil, false, false},
	{"row_to_json star", "SELECT row_to_json(c.*), ROW(c.*) FROM customers c", []int{0, 1}, nil, false, false},
	{"to_jsonb", "SELECT to_jsonb(c), to_json(c) FROM customers AS c", []int{0, 1}, nil, false, false},
	{"whole row", "SELECT c FROM customers c", []int{0}, nil, false, false},
	{"whole row by table name", "SELECT customers FROM customers", []int{0}, nil, false, false},
	{"whole row cast", "SELECT c::text FROM customers c", []int{0}, nil, false, false},
	{"hstore", "SELECT hstore(c) FROM customers c", []int{0}, nil, false, false},
	{"functional notation", "SELECT ssn(c) FROM customers c", []int{0}, nil, false, false},
	{"field selection", "SELECT (c).ssn FROM customers c", []int{0}, nil, false, false},
	{"composite star", "SELECT (c).* FROM customers c", []int{0}, nil, false, false},
	{"array_agg", "SELECT array_agg(ssn) FROM customers", []int{0}, nil, false, false},
	{"string_agg", "SELECT string_agg(ssn, ',' ORDER BY id) FROM customers", []int{0}, nil, false, false},
	{"json_agg", "SELECT json_agg(c), jsonb_agg(ssn), json_object_agg(id, ssn) FROM customers c", []int{0, 1, 2}, nil, false, false},
	{"count of ssn", "SELECT count(ssn), count(DISTINCT ssn) FROM customers", []int{0, 1}, nil, false, false},
	{"aggregate filter", "SELECT count(*) FILTER (WHERE ssn LIKE '1%') FROM customers", []int{0}, nil, true, false},
	{"aggregate order", "SELECT string_agg(name, ',' ORDER BY ssn) FROM customers", []int{0}, nil, true, false},
	{"union", "SELECT name FROM orders UNION SELECT ssn FROM customers", []int{0}, nil, true, false},
	{"union all star", "SELECT * FROM archive UNION ALL SELECT * FROM customers", []int{0}, nil, false, false},
	{"intersect probe", "SELECT count(*) FROM (SELECT '123-45-6789' INTERSECT SELECT ssn FROM customers) x", nil, []int{0}, true, false},

	{"cte", "WITH x AS (SELECT ssn AS s FROM customers) SELECT s FROM x", []int{0}, nil, false, false},
	{"cte column aliases", "WITH x(a, b) AS (SELECT id, ssn FROM customers) SELECT b, a FROM x", []int{0}, []int{1}, false, false},
	{"cte star", "WITH x AS (SELECT * FROM customers) SELECT x.ssn FROM x", []int{0}, nil, false, false},
	{"recursive cte", "WITH RECURSIVE r(a) AS (SELECT 'x'::text UNION ALL SELECT c.ssn FROM r, customers c) SELECT a FROM r", []int{0}, nil, false, false},
	{"recursive cte carried", "WITH RECURSIVE r(n, s) AS (SELECT 1, ssn FROM customers UNION ALL SELECT n + 1, s FROM r WHERE n < 3) SELECT n, s FROM r", []int{1}, nil, false, false},
	{"recursive cte rotating", "WITH RECURSIVE r(a, b, c) AS (SELECT ssn, '', '' FROM customers UNION SELECT c, a, b FROM r) SELECT c FROM r", []int{0}, nil, true, false},
	{"subquery in from", "SELECT x FROM (SELECT ssn AS x FROM customers) s", []int{0}, nil, false, false},
	{"subquery star", "SELECT s.* FROM (SELECT id, ssn FROM customers) s", []int{1}, []int{0}, false, false},
	{"subquery column aliases", "SELECT s.b FROM (SELECT id, ssn FROM customers) s(a, b)", []int{0}, nil, false, false},
	{"scalar subquery", "SELECT (SELECT ssn FROM customers WHERE id = o.cid) FROM orders o", []int{0}, nil, false, false},
	{"scalar subquery predicate", "SELECT (SELECT count(*) FROM customers WHERE ssn LIKE '1%')", []int{0}, nil, true, false},
	{"exists in target list", "SELECT EXISTS (SELECT 1 FROM customers WHERE ssn = '1')", []int{0}, nil, true, false},
	{"in in target list", "SELECT '1' IN (SELECT ssn FROM customers)", []int{0}, nil, true, false},
	{"array subquery", "SELECT ARRAY(SELECT ssn FROM customers)", []int{0}, nil, false, false},
	{"lateral", "SELECT x.v FROM customers c, LATERAL (SELECT c.ssn AS v) x", []int{0}, nil, false, false},
	{"lateral star", "SELECT x.* FROM customers c CROSS JOIN LATERAL (SELECT upper(c.ssn)) x", []int{0}, nil, false, false},
	{"join using", "SELECT * FROM customers JOIN orders USING (id)", []int{1}, []int{0}, false, false},
	{"join using merged", "SELECT ssn FROM customers JOIN orders USING (ssn)", []int{0}, nil, true, false},
	{"join using alias", "SELECT j.ssn FROM customers JOIN orders USING (ssn) AS j", []int{0}, nil, true, false},
	{"natural join", "SELECT * FROM customers NATURAL JOIN orders", []int{0}, nil, true, false},
	{"aliased join", "SELECT j.ssn FROM (customers JOIN orders ON true) AS j", []int{0}, nil, false, false},
	{"renamed columns", "SELECT z FROM customers AS c(x, y, z)", []int{0}, nil, false, false},
	{"ambiguous unqualified", "SELECT ssn FROM orders, customers", []int{0}, nil, false, false},
	{"outer reference", "SELECT (SELECT ssn) FROM customers", []int{0}, nil, false, false},
	{"set-returning function", "SELECT * FROM unnest(ARRAY(SELECT ssn FROM customers))", []int{0}, nil, false, false},
	{"json each", "SELECT j.value FROM customers c, jsonb_each_text(to_jsonb(c)) j", []int{0}, nil, false, false},
	{"user function in from", "SELECT * FROM customer_dump()", []int{0}, nil, false, false},
	{"user function by id", "SELECT lookup_ssn(id) FROM orders", []int{0}, nil, false, false},
	{"query_to_xml", "SELECT query_to_xml('select ssn from customers', true, false, '')", []int{0}, nil, false, false},
	{"json ops", "SELECT to_jsonb(c)->>'ssn', to_jsonb(c) #>> '{ssn}' FROM customers c", []int{0, 1}, nil, false, false},
	{"json object", "SELECT json_build_object('s', ssn), jsonb_build_array(ssn) FROM customers", []int{0, 1}, nil, false, false},
	{"sql json", "SELECT JSON_OBJECT('s': ssn), JSON_ARRAY(ssn) FROM customers", []int{0, 1}, nil, false, false},
	{"coalesce nullif greatest", "SELECT coalesce(ssn, ''), nullif(ssn, '1'), greatest(ssn, 'a') FROM customers", []int{0, 1, 2}, nil, false, false},
	{"row constructor", "SELECT ROW(id, ssn), ARRAY[ssn] FROM customers", []int{0, 1}, nil, false, false},
	{"array element", "SELECT (ARRAY[ssn])[1] FROM customers", []int{0}, nil, false, false},
	{"case branch", "SELECT CASE WHEN id > 0 THEN ssn END FROM customers", []int{0}, nil, false, false},
	{"case probe", "SELECT CASE WHEN ssn LIKE '1%' THEN 'a' ELSE 'b' END FROM customers", []int{0}, nil, true, false},
	{"simple case probe", "SELECT CASE ssn WHEN '1' THEN 1 END FROM customers", []int{0}, nil, true, false},
	{"boolean probe", "SELECT ssn LIKE '1%' FROM customers", []int{0}, nil, false, false},
	{"window order", "SELECT id, row_number() OVER (ORDER BY ssn) FROM customers", []int{1}, []int{0}, true, false},
	{"window partition", "SELECT id, count(*) OVER (PARTITION BY ssn) FROM customers", []int{1}, []int{0}, true, false},
	{"named window", "SELECT rank() OVER w FROM customers WINDOW w AS (ORDER BY ssn)", []int{0}, nil, true, false},
	{"lag", "SELECT lag(ssn) OVER (ORDER BY id) FROM customers", []int{0}, nil, false, false},
	{"where like", "SELECT id FROM customers WHERE ssn LIKE '123%'", nil, []int{0}, true, false},
	{"count probe", "SELECT count(*) FROM customers WHERE ssn LIKE '123%'", nil, []int{0}, true, false},
	{"join on probe", "SELECT o.id FROM orders o JOIN customers c ON c.id = o.cid AND c.ssn > '5'", nil, []int{0}, true, false},
	{"in subquery probe", "SELECT id FROM orders WHERE cid IN (SELECT id FROM customers WHERE ssn < '5')", nil, []int{0}, true, false},
	{"in subquery target", "SELECT 1 FROM orders WHERE note IN (SELECT ssn FROM customers)", nil, []int{0}, true, false},
	{"exists probe", "SELECT 1 WHERE EXISTS (SELECT 1 FROM customers WHERE ssn = '1')", nil, []int{0}, true, false},
	{"group by", "SELECT count(*) FROM customers GROUP BY ssn", nil, []int{0}, true, false},
	{"group by position", "SELECT ssn, count(*) FROM customers GROUP BY 1", []int{0}, []int{1}, true, false},
	{"having", "SELECT id FROM customers GROUP BY id HAVING max(ssn) > '5'", nil, []int{0}, true, false},
	{"order by", "SELECT id FROM customers ORDER BY ssn", nil, []int{0}, true, false},
	{"order by position", "SELECT id, ssn FROM customers ORDER BY 2", []int{1}, []int{0}, true, false},
	{"order by output alias", "SELECT id, ssn AS s FROM customers ORDER BY s", []int{1}, []int{0}, true, false},
	{"order by unnamed output", "SELECT (SELECT ssn FROM customers LIMIT 1) FROM orders ORDER BY ssn", []int{0}, nil, true, false},
	{"distinct on", "SELECT DISTINCT ON (ssn) id FROM customers", nil, []int{0}, true, false},
	{"distinct", "SELECT DISTINCT ssn FROM customers", []int{0}, nil, true, false},
	{"limit probe", "SELECT id FROM orders LIMIT (SELECT count(*) FROM customers WHERE ssn LIKE '1%')", nil, []int{0}, true, false},
	{"probe in from subquery", "SELECT count(*) FROM (SELECT 1 FROM customers WHERE ssn LIKE '1%') s", nil, []int{0}, true, false},
	{"probe in cte", "WITH x AS (SELECT id FROM customers WHERE ssn LIKE '1%') SELECT count(*) FROM x", nil, []int{0}, true, false},
	{"declare cursor", "DECLARE c CURSOR FOR SELECT ssn FROM customers", []int{0}, nil, false, false},
	{"prepare", "PREPARE p AS SELECT upper(ssn) FROM customers WHERE id = $1", []int{0}, nil, false, false},
	{"copy query", "COPY (SELECT ssn FROM customers) TO STDOUT", []int{0}, nil, false, false},
	{"copy table", "COPY customers TO STDOUT WITH (FORMAT csv)", []int{0}, nil, false, false},
	{"copy columns", "COPY customers (id, ssn) TO STDOUT", []int{1}, []int{0}, false, false},
	{"copy returning", "COPY (UPDATE customers SET name = name RETURNING ssn) TO STDOUT", []int{0}, nil, false, false},
	{"update returning", "UPDATE customers SET notes = ssn WHERE id = 1 RETURNING notes", []int{0}, nil, false, true},
	{"update from returning", "UPDATE orders o SET note = c.ssn FROM customers c WHERE c.id = o.cid RETURNING o.note", []int{0}, nil, false, true},
	{"update returning star", "UPDATE notes SET body = (SELECT ssn FROM customers LIMIT 1) RETURNING *", []int{0}, nil, false, true},
	{"delete returning", "DELETE FROM customers WHERE id = 1 RETURNING ssn", []int{0}, nil, false, false},
	{"insert returning", "INSERT INTO notes (body) SELECT ssn FROM customers RETURNING body", []int{0}, nil, false, true},
	{"upsert returning", "INSERT INTO notes AS n (id, body) VALUES (1, 'x') ON CONFLICT (id) DO UPDATE SET body = (SELECT ssn FROM customers LIMIT 1) RETURNING n.body", []int{0}, nil, false, true},
	{"merge returning", "MERGE INTO notes n USING customers c ON n.id = c.id WHEN MATCHED THEN UPDATE SET body = c.ssn RETURNING n.body", []int{0}, nil, false, true},
	{"data-modifying cte", "WITH d AS (DELETE FROM customers RETURNING *) SELECT d.ssn FROM d", []int{0}, nil, false, false},
	{"values in from", "SELECT v.b FROM customers c, LATERAL (VALUES (c.id, c.ssn)) v(a, b)", []int{0}, nil, false, false},
	{"tablesample", "SELECT ssn FROM customers TABLESAMPLE BERNOULLI (10)", []int{0}, nil, false, false},
	{"create table as", "CREATE TABLE x AS SELECT ssn FROM customers", nil, nil, false, true},
	{"select into", "SELECT ssn INTO x FROM customers", nil, nil, false, true},
	{"insert select star", "INSERT INTO archive SELECT * FROM customers", nil, nil, false, true},
	{"view with probe", "CREATE VIEW v AS SELECT id FROM customers WHERE ssn LIKE '1%'", nil, nil, true, false},
	{"explain", "EXPLAIN SELECT id FROM customers WHERE ssn = '1'", []int{0}, nil, true, false},
	{"xmltable", "SELECT * FROM xmltable('/r' PASSING (SELECT xmlelement(name r, ssn) FROM customers LIMIT 1) COLUMNS a text)", []int{0}, nil, false, false},
	{"call", "CALL dump_customers()", []int{0}, nil, false, false},
}

// TestProvenanceNoOverMasking: columns that do not derive from ssn must not
// list it, and statements that do not probe it must not filter by it.
func TestProvenanceNoOverMasking(t *testing.T) {
	for _, text := range []string{
		"SELECT id, name FROM customers",
		"SELECT count(*) FROM customers",
		"SELECT c.id, upper(c.name) FROM customers c WHERE c.id = 1 ORDER BY c.name",
		"SELECT id FROM customers c WHERE EXISTS (SELECT * FROM orders o WHERE o.cid = c.id)",
		"SELECT s.id FROM (SELECT id, ssn FROM customers) s",
		"WITH x AS (SELECT id, ssn FROM customers) SELECT id FROM x",
		"SELECT o.total FROM orders o JOIN customers c ON c.id = o.cid",
		"SELECT name FROM customers UNION ALL SELECT name FROM archive",
		"SELECT 1 FROM customers GROUP BY id",
		"SELECT * FROM generate_series(1, 10) g",
		"SELECT now(), current_user, 'x'::text",
		"SELECT b.id FROM customers JOIN orders b USING (id)",
		"DECLARE c CURSOR FOR SELECT id FROM customers",
		"UPDATE customers SET name = upper(name) WHERE id = 1 RETURNING id",
	} {
		st := mustAnalyze(t, text, scsOn)[0]
		for i, c := range st.Output {
			if coversSSN(c) {
				js, _ := json.Marshal(st.Output)
				t.Errorf("%q: output column %d covers %s: %s", text, i, ssn, js)
			}
		}
		if filtersSSN(st.Filters) || filtersSSN(st.Copied) {
			t.Errorf("%q: filters %v, copied %v: want no ssn", text, st.Filters, st.Copied)
		}
	}
}

// TestProvenanceShapes checks the exact provenance of the constructs whose
// form the proxy relies on.
func TestProvenanceShapes(t *testing.T) {
	cust := func(col string) []string { return []string{"public.customers." + col} }
	cases := []struct {
		name string
		text string
		want []OutputColumn
	}{
		{"direct and expression", "SELECT ssn AS x, length(name) FROM customers",
			[]OutputColumn{{Name: "x", Sources: cust("ssn"), Direct: true}, {Name: "length", Sources: cust("name")}}},
		{"view column as written", "SELECT v.secret FROM customer_view v",
			[]OutputColumn{{Name: "secret", Sources: []string{"public.customer_view.secret"}, Direct: true}}},
		{"star", "SELECT * FROM customers",
			[]OutputColumn{{Star: &StarRef{Table: ssnTable}, Direct: true}}},
		{"star of each item", "SELECT o.*, c.* FROM orders o, s.customers c",
			[]OutputColumn{{Star: &StarRef{Table: "public.orders"}, Direct: true}, {Star: &StarRef{Table: "s.customers"}, Direct: true}}},
		{"join using star", "SELECT * FROM customers JOIN orders USING (id)",
			[]OutputColumn{
				{Name: "id", Sources: []string{"public.customers.id", "public.orders.id"}},
				{Star: &StarRef{Table: ssnTable, Except: []string{"id"}}, Direct: true},
				{Star: &StarRef{Table: "public.orders", Except: []string{"id"}}, Direct: true},
			}},
		{"nested using", "SELECT * FROM (a JOIN b USING (k)) JOIN c USING (k)",
			[]OutputColumn{
				{Name: "k", Sources: []string{"public.a.k", "public.b.k", "public.c.k"}},
				{Star: &StarRef{Table: "public.a", Except: []string{"k"}}, Direct: true},
				{Star: &StarRef{Table: "public.b", Except: []string{"k"}}, Direct: true},
				{Star: &StarRef{Table: "public.c", Except: []string{"k"}}, Direct: true},
			}},
		{"natural join", "SELECT * FROM customers NATURAL JOIN orders",
			[]OutputColumn{{Many: true, WholeRow: []string{ssnTable, "public.orders"}}}},
		{"union of stars", "SELECT * FROM customers UNION ALL SELECT * FROM archive",
			[]OutputColumn{{Star: &StarRef{Table: ssnTable, Union: []StarRef{{Table: "public.archive"}}}}}},
		{"union of columns", "SELECT id, ssn FROM customers UNION SELECT 1, note FROM orders",
			[]OutputColumn{{Name: "id", Sources: cust("id")}, {Name: "ssn", Sources: []string{ssn, "public.orders.note"}}}},
		{"misaligned union", "SELECT * FROM customers UNION SELECT 1, 2",
			[]OutputColumn{{Many: true, WholeRow: []string{ssnTable}}}},
		{"values", "VALUES (1, 'a'), (2, 'b')",
			[]OutputColumn{{Name: "column1"}, {Name: "column2"}}},
		{"whole row", "SELECT c FROM customers c",
			[]OutputColumn{{Name: "c", Sources: cust("c"), WholeRow: []string{ssnTable}}}},
		{"unknown function", "SELECT f(id) FROM customers",
			[]OutputColumn{{Name: "f", Sources: cust("id"), Unknown: true, Why: "function f is not known to derive its result only from its arguments"}}},
		{"quoted builtin name is not the builtin", `SELECT "UPPER"(name) FROM customers`,
			[]OutputColumn{{Name: "UPPER", Sources: cust("name"), Unknown: true, Why: "function UPPER is not known to derive its result only from its arguments"}}},
		{"set-returning function", "SELECT * FROM jsonb_each(to_jsonb((SELECT c FROM customers c LIMIT 1)))",
			[]OutputColumn{{Many: true, Sources: cust("c"), WholeRow: []string{ssnTable}}}},
		{"params", "SELECT $1 || name AS x FROM customers",
			[]OutputColumn{{Name: "x", Sources: cust("name"), Params: []int{1}}}},
		{"returning after update", "UPDATE customers SET notes = ssn WHERE id = 1 RETURNING notes, *",
			// After the write, every column of the target derives from
			// itself and from the SET values.
			[]OutputColumn{{Name: "notes", Sources: []string{"public.customers.notes", ssn}}, {Star: &StarRef{Table: ssnTable}, Sources: cust("ssn")}}},
		{"copy table", "COPY customers TO STDOUT", []OutputColumn{{Star: &StarRef{Table: ssnTable}}}},
		{"copy columns", "COPY s.t (a, b) TO STDOUT",
			[]OutputColumn{{Name: "a", Sources: []string{"s.t.a"}}, {Name: "b", Sources: []string{"s.t.b"}}}},
		{"copy query is never direct", "COPY (SELECT ssn FROM customers) TO STDOUT",
			[]OutputColumn{{Name: "ssn", Sources: cust("ssn")}}},
		{"copy from", "COPY customers FROM STDIN", []OutputColumn{}},
		{"show", "SHOW search_path", []OutputColumn{{}}},
		{"show all", "SHOW ALL", []OutputColumn{{Name: "name"}, {Name: "setting"}, {Name: "description"}}},
		{"explain", "EXPLAIN ANALYZE SELECT * FROM customers JOIN orders ON true",
			[]OutputColumn{{Name: "QUERY PLAN", WholeRow: []string{ssnTable, "public.orders"}}}},
		{"call", "CALL p(1)", []OutputColumn{{Many: true, Unknown: true, Why: "CALL: a procedure's output parameters"}}},
		{"fetch", "FETCH ALL FROM c", []OutputColumn{}},
		{"execute", "EXECUTE p(1)", []OutputColumn{}},
		{"insert without returning", "INSERT INTO t VALUES (1)", []OutputColumn{}},
		{"ddl", "CREATE TABLE t (a int)", []OutputColumn{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := mustAnalyze(t, c.text, scsOn)[0].Output
			gj, _ := json.Marshal(got)
			wj, _ := json.Marshal(c.want)
			if string(gj) != string(wj) {
				t.Errorf("%q:\n got  %s\n want %s", c.text, gj, wj)
			}
		})
	}
}

func TestProvenanceCursorsAndPrepared(t *testing.T) {
	sts := mustAnalyze(t, "DECLARE c CURSOR FOR SELECT ssn FROM customers; FETCH 10 FROM c; MOVE NEXT IN c; CLOSE c", scsOn)
	if sts[0].Declare != "c" || len(sts[0].Output) != 1 || !coversSSN(sts[0].Output[0]) {
		t.Errorf("DECLARE: declare %q, output %+v", sts[0].Declare, sts[0].Output)
	}
	if sts[1].Fetch != "c" || sts[2].Fetch != "c" || sts[3].Fetch != "" {
		t.Errorf("FETCH/MOVE/CLOSE: fetch %q, %q, %q; want c, c and none", sts[1].Fetch, sts[2].Fetch, sts[3].Fetch)
	}

	prep := mustAnalyze(t, "PREPARE p (text, int) AS SELECT $1 AS a, name FROM customers WHERE id = $2", scsOn)[0]
	if got := prep.Output[0].Params; !slices.Equal(got, []int{1}) {
		t.Fatalf("PREPARE: params of a %v, want [1]", got)
	}
	exec := mustAnalyze(t, "EXECUTE p((SELECT ssn FROM customers LIMIT 1), 3)", scsOn)[0]
	if exec.Execute != "p" || len(exec.ExecuteArgs) != 2 || !coversSSN(exec.ExecuteArgs[0]) || coversSSN(exec.ExecuteArgs[1]) {
		t.Fatalf("EXECUTE: args %+v", exec.ExecuteArgs)
	}
	if !filtersSSN(exec.Filters) {
		t.Errorf("EXECUTE: filters %v, want ssn (the prepared statement may compare its parameters)", exec.Filters)
	}
	bound := BindParams(prep.Output, exec.ExecuteArgs)
	if !coversSSN(bound[0]) || bound[0].Params != nil || coversSSN(bound[1]) {
		t.Errorf("BindParams: %+v", bound)
	}
	if prep.Output[0].Sources != nil || prep.Output[0].Params == nil {
		t.Errorf("BindParams modified its input: %+v", prep.Output[0])
	}
	if b := BindParams(prep.Output, nil); !b[0].Unknown {
		t.Errorf("BindParams without arguments: %+v, want unknown", b[0])
	}
	if e := mustAnalyze(t, "EXECUTE p", scsOn)[0]; e.ExecuteArgs != nil {
		t.Errorf("EXECUTE without arguments: args %+v, want none", e.ExecuteArgs)
	}
}

func TestViewOutput(t *testing.T) {
	// What pg_get_viewdef returns under search_path = pg_catalog.
	def := ` SELECT c.id,
    c.ssn AS secret,
    upper(c.name) AS name
   FROM public.customers c
  WHERE c.active;`
	got, err := ViewOutput(def, scsOn)
	if err != nil {
		t.Fatal(err)
	}
	want := []OutputColumn{
		{Name: "id", Sources: []string{"public.customers.id"}, Direct: true},
		{Name: "secret", Sources: []string{ssn}, Direct: true},
		{Name: "name", Sources: []string{"public.customers.name"}},
	}
	gj, _ := json.Marshal(got)
	wj, _ := json.Marshal(want)
	if string(gj) != string(wj) {
		t.Errorf("ViewOutput:\n got  %s\n want %s", gj, wj)
	}
	for _, bad := range []string{"DELETE FROM t", "SELECT 1; SELECT 2", "SELECT 1 INTO t", ""} {
		if _, err := ViewOutput(bad, scsOn); err == nil {
			t.Errorf("ViewOutput(%q): no error", bad)
		}
	}
	if _, err := ViewOutput("SELEC 1", scsOn); err == nil || !strings.Contains(err.Error(), "syntax") {
		t.Errorf("ViewOutput of a syntax error: %v", err)
	}
}

// TestProvenanceJSON: the provenance members of the policy input have
// their documented names and are never null.
func TestProvenanceJSON(t *testing.T) {
	b, err := json.Marshal(mustAnalyze(t, "BEGIN", scsOn)[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{`"output":[]`, `"columns_filtered":[]`, `"columns_copied":[]`} {
		if !strings.Contains(string(b), f) {
			t.Errorf("JSON %s: missing %s", b, f)
		}
	}
	b, _ = json.Marshal(mustAnalyze(t, "SELECT c FROM customers c WHERE ssn > '1'", scsOn)[0])
	for _, f := range []string{`"output":[{"name":"c","sources":["public.customers.c"],"whole_row":["public.customers"]}]`, `"columns_filtered":["public.customers.ssn"]`} {
		if !strings.Contains(string(b), f) {
			t.Errorf("JSON %s: missing %s", b, f)
		}
	}
}

// TestProvenanceBudget: a statement whose analysis would take too long
// (nested recursive CTEs multiply the work) is unknown, not slow.
func TestProvenanceBudget(t *testing.T) {
	nest := func(n int) string {
		q := "SELECT ssn FROM customers"
		for i := range n {
			r := "r" + string(rune('a'+i))
			q = "WITH RECURSIVE " + r + "(x) AS (" + q + " UNION SELECT x FROM " + r + ") SELECT x FROM " + r
		}
		return q
	}
	st := mustAnalyze(t, nest(4), scsOn)[0]
	if len(st.Output) != 1 || st.Output[0].Unknown || !coversSSN(st.Output[0]) {
		t.Errorf("4 levels: output %+v, want it to derive from ssn", st.Output)
	}
	st = mustAnalyze(t, nest(20), scsOn)[0]
	if len(st.Output) != 1 || !st.Output[0].Unknown || st.Output[0].Why != tooComplex {
		t.Errorf("20 levels: output %+v, want unknown: %s", st.Output, tooComplex)
	}
	if !slices.Contains(st.Filters, Unknown) || !slices.Contains(st.Copied, Unknown) {
		t.Errorf("20 levels: filters %v, copied %v; want %q in both", st.Filters, st.Copied, Unknown)
	}
}

// BenchmarkProvenance measures the provenance pass alone on a statement
// with joins, a CTE, a subquery and window functions (it runs on cache
// misses only).
func BenchmarkProvenance(b *testing.B) {
	tree, err := parse(`WITH r AS (SELECT cid, sum(total) AS t FROM orders GROUP BY cid)
		SELECT c.id, upper(c.name), r.t, row_number() OVER (PARTITION BY c.region ORDER BY r.t DESC),
		       (SELECT max(o.total) FROM orders o WHERE o.cid = c.id)
		FROM customers c JOIN r ON r.cid = c.id LEFT JOIN regions g USING (region)
		WHERE c.active AND c.id > $1 ORDER BY 2 LIMIT 10`, parserOptions(scsOn))
	if err != nil {
		b.Fatal(err)
	}
	n := tree.Stmts[0].Stmt
	b.ReportAllocs()
	for b.Loop() {
		provenance(&Statement{}, n)
	}
}

// TestProvenanceEmptyNodes runs the provenance pass, as a statement and as
// an expression, over an empty instance of every node type pg_query knows:
// missing fields must never panic.
func TestProvenanceEmptyNodes(t *testing.T) {
	oneof := (&pg_query.Node{}).ProtoReflect().Descriptor().Oneofs().ByName("node")
	for i := range oneof.Fields().Len() {
		fd := oneof.Fields().Get(i)
		mt, err := protoregistry.GlobalTypes.FindMessageByName(fd.Message().FullName())
		if err != nil {
			t.Fatal(err)
		}
		n := &pg_query.Node{}
		n.ProtoReflect().Set(fd, protoreflect.ValueOfMessage(mt.New()))
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("%s: panic %v", fd.Message().Name(), r)
				}
			}()
			st := &Statement{}
			provenance(st, n)
			if st.Output == nil || st.Filters == nil || st.Copied == nil {
				t.Errorf("%s: nil lists %+v", fd.Message().Name(), st)
			}
			p := newProv(defaultSchema)
			p.expr(n, &qctx{sc: &scope{}, pred: &lin{}})
			p.fromItem(n, &scope{}, &qctx{sc: &scope{}, pred: &lin{}})
		}()
	}
}
