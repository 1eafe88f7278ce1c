package analysis

import (
	"encoding/json"
	"strings"
	"testing"

	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/interlock-dev/interlock/policy/sqlkey"
)

// provenanceJSON is the part of an analysis this file's tests compare.
func provenanceJSON(st *Statement) string {
	b, _ := json.Marshal(struct {
		Output      []OutputColumn
		Filters     []string
		Copied      []string
		Declare     string
		Fetch       string
		ExecuteArgs []OutputColumn
	}{st.Output, st.Filters, st.Copied, st.Declare, st.Fetch, st.ExecuteArgs})
	return string(b)
}

// substituteConstants replaces every string and numeric literal token of
// text with another literal of the same kind (which (0 or 1) picks which).
func substituteConstants(t *testing.T, text string, which int) string {
	t.Helper()
	res, err := pg_query.Scan(text)
	if err != nil {
		t.Fatalf("scan %q: %v", text, err)
	}
	var b strings.Builder
	last := 0
	for _, tok := range res.Tokens {
		var repl string
		switch tok.Token {
		case pg_query.Token_SCONST:
			repl = []string{"'zq'", "'9'"}[which]
		case pg_query.Token_ICONST:
			repl = []string{"7", "1"}[which]
		case pg_query.Token_FCONST:
			repl = []string{"7.5", "0.25"}[which]
		default:
			continue
		}
		b.WriteString(text[last:tok.Start])
		b.WriteString(repl)
		last = int(tok.End)
	}
	b.WriteString(text[last:])
	return b.String()
}

// TestProvenanceIgnoresConstants: texts that share a cache key (they differ
// only in literal constants) have the same provenance, positional ORDER BY
// and GROUP BY included.
func TestProvenanceIgnoresConstants(t *testing.T) {
	texts := []string{
		"SELECT id, ssn FROM customers ORDER BY 1",
		"SELECT id, ssn FROM customers ORDER BY 2 DESC",
		"SELECT id, ssn, count(*) FROM customers GROUP BY 1, 2",
		"SELECT id, ssn FROM customers GROUP BY ROLLUP (1, 2)",
		"SELECT DISTINCT ON (1) id, ssn FROM customers",
		"SELECT a FROM t UNION SELECT b FROM u ORDER BY 1",
		"VALUES (1, 'a'), (2, 'b') ORDER BY 1",
		"SELECT ssn FROM customers LIMIT 5 OFFSET 10",
		"SELECT (ARRAY[id, 2])[1], jsonb_extract_path(to_jsonb(c), 'ssn') FROM customers c",
		"SELECT nth_value(ssn, 2) OVER (ORDER BY id ROWS BETWEEN 1 PRECEDING AND 2 FOLLOWING) FROM customers",
		"SELECT query_to_xml('select ssn from customers', true, false, '')",
		"SELECT current_setting('x'), set_config('a', 'b', false)",
		"EXECUTE p(1, 'x', 2.5)",
		"COPY customers TO STDOUT WITH (FORMAT 'csv', DELIMITER ';')",
		"FETCH 5 FROM c",
	}
	for _, e := range evasions {
		texts = append(texts, e.text)
	}
	compared := 0
	for _, text := range texts {
		key, ok := sqlkey.Append(nil, text, true)
		if !ok {
			continue
		}
		want := provenanceJSON(mustAnalyze(t, text, scsOn)[0])
		for which := range 2 {
			text2 := substituteConstants(t, text, which)
			if text2 == text {
				continue
			}
			key2, ok2 := sqlkey.Append(nil, text2, true)
			if !ok2 || string(key2) != string(key) {
				continue
			}
			sts, err := Analyze(text2, scsOn)
			if err != nil {
				continue // the grammar may refuse a value (FETCH 7.5)
			}
			compared++
			if got := provenanceJSON(sts[0]); got != want {
				t.Errorf("same key, different provenance:\n%q: %s\n%q: %s", text, want, text2, got)
			}
		}
	}
	t.Logf("compared %d variants", compared)
	if compared < 50 {
		t.Fatalf("compared %d variants, want at least 50", compared)
	}
}
