package proxy

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

// maskingData tags the PII columns of the sample customers table.
func maskingData() map[string]any {
	return map[string]any{
		"columns": map[string]any{
			"public.customers.ssn":         map[string]any{"tags": []any{"pii"}, "mask": map[string]any{"strategy": "partial", "keep": 4}},
			"public.customers.email":       map[string]any{"tags": []any{"pii"}, "mask": map[string]any{"strategy": "email"}},
			"public.customers.card_number": map[string]any{"tags": []any{"pii"}, "mask": map[string]any{"strategy": "redact"}},
			"public.customers.phone":       map[string]any{"tags": []any{"pii"}, "mask": map[string]any{"strategy": "hash"}},
		},
	}
}

var maskingInit = []string{
	`CREATE VIEW public.v_contacts AS SELECT id, ssn AS tax_id, upper(email) AS mail, name FROM public.customers`,
	`GRANT SELECT ON public.v_contacts TO interlock_ro, interlock_rw`,
}

// secrets are byte strings that must never reach a masked user.
func secrets() [][]byte {
	ssns := []string{"123-45-6789", "234-56-7890", "345-67-8901", "456-78-9012"}
	var out [][]byte
	for _, s := range ssns {
		sum := md5.Sum([]byte(s))
		out = append(out, []byte(s), []byte(strings.ReplaceAll(s, "-", "")), []byte(s[:6]), []byte(hex.EncodeToString(sum[:])))
	}
	for _, c := range []string{"4111111111111111", "5500000000000004", "340000000000009", "6011000000000004", "411111", "550000", "601100"} {
		out = append(out, []byte(c))
	}
	for _, e := range []string{"ada@", "alan@", "grace@", "barbara@", "ADA@", "GRACE@", "+1-555-0101", "555-0102"} {
		out = append(out, []byte(e))
	}
	return out
}

// leak returns the first secret found in b.
func leak(b []byte) string {
	for _, s := range secrets() {
		if bytes.Contains(b, s) {
			return string(s)
		}
	}
	return ""
}

type outcome int

const (
	rows   outcome = iota + 1 // must return rows (masked)
	denied                    // must be refused by policy
	either                    // rows or a refusal
)

// TestMaskingEvasionCorpus tries to read masked columns every way we know
// and checks the bytes the client received.
func TestMaskingEvasionCorpus(t *testing.T) {
	e := newEnv(t, envOptions{policyData: maskingData(), initSQL: maskingInit})
	ctx := ctxT(t)
	corpus := []struct {
		sql  string
		want outcome
	}{
		{"SELECT ssn FROM customers", rows},
		{"SELECT ssn AS x FROM customers", rows},
		{"SELECT ssn::text FROM customers", rows},
		{"SELECT ssn || '' FROM customers", rows},
		{"SELECT 'x' || ssn || 'y' FROM customers", rows},
		{"SELECT substr(ssn, 1, 3) FROM customers", rows},
		{"SELECT upper(email) FROM customers", rows},
		{"SELECT md5(ssn) FROM customers", rows},
		{"SELECT replace(ssn, '-', '') FROM customers", rows},
		{"SELECT row_to_json(c) FROM customers c", rows},
		{"SELECT to_jsonb(c) FROM customers c", rows},
		{"SELECT array_agg(ssn) FROM customers", rows},
		{"SELECT string_agg(ssn, ',') FROM customers", rows},
		{"SELECT json_agg(ssn) FROM customers", rows},
		{"SELECT json_agg(c) FROM customers c", rows},
		{"SELECT format('%s', ssn) FROM customers", rows},
		{"SELECT jsonb_build_object('s', ssn) FROM customers", rows},
		{"SELECT ARRAY[ssn, name] FROM customers", rows},
		{"SELECT coalesce(ssn, 'none') FROM customers", rows},
		{"SELECT left(card_number, 6) FROM customers", rows},
		{"SELECT split_part(email, '@', 1) FROM customers", rows},
		{"SELECT max(ssn) FROM customers", rows},
		{"SELECT ssn FROM customers UNION ALL SELECT name FROM customers", rows},
		{"SELECT ssn FROM customers UNION SELECT name FROM customers", either},
		{"SELECT tax_id FROM v_contacts", rows},
		{"SELECT mail FROM v_contacts", rows},
		{"SELECT * FROM v_contacts", rows},
		{"WITH x AS (SELECT ssn FROM customers) SELECT * FROM x", rows},
		{"WITH x(a) AS (SELECT ssn FROM customers) SELECT a FROM x", rows},
		{"SELECT (SELECT ssn FROM customers WHERE id = 1)", either},
		{"SELECT s FROM (SELECT ssn AS s FROM customers) sub", rows},
		{"SELECT l.s FROM customers c, LATERAL (SELECT c.ssn AS s) l", rows},
		{"SELECT c FROM customers c", rows},
		{"SELECT c::text FROM customers c", rows},
		{"SELECT t.* FROM customers t", rows},
		{"SELECT * FROM customers", rows},
		{"SELECT email, phone, card_number FROM customers", rows},
		{"SELECT x FROM unnest(ARRAY(SELECT ssn FROM customers)) x", rows},
		{"SELECT CASE WHEN ssn LIKE '1%' THEN 'a' ELSE 'b' END FROM customers", either},
		{"SELECT id FROM customers WHERE ssn LIKE '123%'", denied},
		{"SELECT id FROM customers ORDER BY ssn", denied},
		{"SELECT ssn FROM customers GROUP BY ssn", denied},
		{"SELECT count(*) FROM customers WHERE ssn = '123-45-6789'", denied},
		{"SELECT id FROM customers c JOIN orders o ON o.customer_id::text = c.ssn", denied},
	}
	c := e.connect(t, "carol", "readers")
	for _, tc := range corpus {
		t.Run(tc.sql, func(t *testing.T) {
			for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeExec} {
				got, err := collect(ctx, c, tc.sql, mode)
				if l := leak(got); l != "" {
					t.Fatalf("mode %v leaked %q in %q", mode, l, got)
				}
				if err != nil {
					if l := leak([]byte(err.Error())); l != "" {
						t.Fatalf("error leaked %q: %v", l, err)
					}
				}
				switch tc.want {
				case rows:
					if err != nil || len(got) == 0 {
						t.Fatalf("mode %v: want masked rows, got %v (%d bytes)", mode, err, len(got))
					}
				case denied:
					if pgCode(err) != "42501" {
						t.Fatalf("mode %v: want a policy denial, got %v", mode, err)
					}
				case either:
					if err != nil && pgCode(err) != "42501" {
						t.Fatalf("mode %v: %v", mode, err)
					}
				}
			}
		})
	}

	t.Run("BinaryResults", func(t *testing.T) {
		for _, q := range []string{"SELECT ssn, email, card_number, phone FROM customers", "SELECT ssn::bytea, upper(ssn) FROM customers", "SELECT * FROM customers WHERE id = $1"} {
			var args []any
			if strings.Contains(q, "$1") {
				args = []any{1}
			}
			rs, err := c.Query(ctx, q, append([]any{pgx.QueryResultFormats{1}}, args...)...)
			if err != nil {
				t.Fatal(err)
			}
			var all []byte
			n := 0
			for rs.Next() {
				n++
				for _, v := range rs.RawValues() {
					all = append(all, v...)
				}
			}
			if err := rs.Err(); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			if n == 0 {
				t.Fatalf("%s: no rows", q)
			}
			if l := leak(all); l != "" {
				t.Fatalf("%s in binary leaked %q", q, l)
			}
		}
	})
	t.Run("Cursors", func(t *testing.T) {
		for _, q := range []string{"SELECT ssn FROM customers", "SELECT upper(ssn), email FROM customers", "SELECT * FROM customers"} {
			tx, err := c.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tx.Exec(ctx, "DECLARE cur CURSOR FOR "+q, pgx.QueryExecModeSimpleProtocol); err != nil {
				t.Fatalf("DECLARE: %v", err)
			}
			got, err := collect(ctx, c, "FETCH ALL FROM cur", pgx.QueryExecModeSimpleProtocol)
			if err != nil || len(got) == 0 {
				t.Fatalf("FETCH: %v", err)
			}
			if l := leak(got); l != "" {
				t.Fatalf("cursor over %q leaked %q", q, l)
			}
			_ = tx.Rollback(ctx)
		}
	})
	t.Run("PrepareExecute", func(t *testing.T) {
		if _, err := c.Exec(ctx, "PREPARE p AS SELECT ssn, upper(email) FROM customers", pgx.QueryExecModeSimpleProtocol); err != nil {
			t.Fatal(err)
		}
		got, err := collect(ctx, c, "EXECUTE p", pgx.QueryExecModeSimpleProtocol)
		if err != nil || len(got) == 0 {
			t.Fatalf("PREPARE/EXECUTE: %v", err)
		}
		if l := leak(got); l != "" {
			t.Fatalf("EXECUTE leaked %q", l)
		}
	})
	t.Run("Copy", func(t *testing.T) {
		for _, q := range []string{
			"COPY customers TO STDOUT",
			"COPY customers (ssn, email) TO STDOUT",
			"COPY customers TO STDOUT WITH (FORMAT csv, HEADER)",
			"COPY customers TO STDOUT WITH (FORMAT csv, DELIMITER ';', QUOTE '''')",
			"COPY customers TO STDOUT WITH (FORMAT binary)",
			"COPY (SELECT ssn, upper(email) FROM customers) TO STDOUT",
			"COPY (SELECT * FROM v_contacts) TO STDOUT WITH (FORMAT csv)",
		} {
			var buf bytes.Buffer
			_, err := c.PgConn().CopyTo(ctx, &buf, q)
			if err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			if buf.Len() == 0 {
				t.Fatalf("%s: no data", q)
			}
			if l := leak(buf.Bytes()); l != "" {
				t.Fatalf("%s leaked %q", q, l)
			}
		}
	})
	t.Run("Returning", func(t *testing.T) {
		w := e.connect(t, "bob", "writers")
		got, err := collect(ctx, w, "UPDATE customers SET notes = notes WHERE id = 1 RETURNING ssn, email, upper(card_number)", pgx.QueryExecModeSimpleProtocol)
		if err != nil || len(got) == 0 {
			t.Fatalf("UPDATE RETURNING: %v", err)
		}
		if l := leak(got); l != "" {
			t.Fatalf("RETURNING leaked %q", l)
		}
	})
	t.Run("AuditListsMaskedColumns", func(t *testing.T) {
		recs := auditRecords(t, e, "statement_result")
		var sawMasked, sawUnknown bool
		for _, r := range recs {
			if m, ok := r["masked"].([]any); ok && len(m) > 0 {
				sawMasked = true
			}
			if m, ok := r["masked_unknown_provenance"].([]any); ok && len(m) > 0 {
				sawUnknown = true
			}
		}
		if !sawMasked {
			t.Fatal("no statement_result record lists masked columns")
		}
		_ = sawUnknown
	})
}

// collect runs sql and returns every returned value's bytes.
func collect(ctx context.Context, c *pgx.Conn, sql string, mode pgx.QueryExecMode) ([]byte, error) {
	rs, err := c.Query(ctx, sql, mode)
	if err != nil {
		return nil, err
	}
	var all []byte
	for rs.Next() {
		for _, v := range rs.RawValues() {
			all = append(all, v...)
			all = append(all, '|')
		}
	}
	return all, rs.Err()
}

// TestNoOverMasking: a user without masking rules sees every value
// unchanged, byte for byte, against a direct connection, for every type.
func TestNoOverMasking(t *testing.T) {
	e := newEnv(t, envOptions{policyData: maskingData(), initSQL: maskingInit})
	ctx := ctxT(t)
	through := e.connect(t, "dora", "readers", "pii-readers")
	direct := e.direct(t)
	for _, q := range []string{"SELECT * FROM all_types ORDER BY id", "SELECT * FROM customers ORDER BY id", "SELECT * FROM v_contacts ORDER BY id"} {
		for _, format := range []int16{0, 1} {
			a, err := rawRows(ctx, through.PgConn(), q, format)
			if err != nil {
				t.Fatalf("%s through Interlock: %v", q, err)
			}
			b, err := rawRows(ctx, direct.PgConn(), q, format)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(a, b) {
				t.Fatalf("%s format %d: Interlock returned different bytes to an unmasked user", q, format)
			}
		}
	}
	// And the masked user does see masked values there.
	masked := e.connect(t, "carol", "readers")
	a, _ := rawRows(ctx, masked.PgConn(), "SELECT * FROM customers ORDER BY id", 0)
	if l := leak(a); l != "" {
		t.Fatalf("masked user saw %q", l)
	}
}

func rawRows(ctx context.Context, c *pgconn.PgConn, q string, format int16) ([]byte, error) {
	rr := c.ExecParams(ctx, q, nil, nil, nil, []int16{format})
	var out []byte
	for rr.NextRow() {
		for _, v := range rr.Values() {
			out = append(out, fmt.Sprintf("%d:", len(v))...)
			out = append(out, v...)
		}
	}
	_, err := rr.Close()
	return out, err
}

// auditRecords returns the audit records of type typ.
func auditRecords(t *testing.T, e *env, typ string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(e.audit)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, line := range strings.Split(string(b), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["type"] == typ {
			out = append(out, m)
		}
	}
	return out
}

// TestMaskingAfterDDL: a view redefined in the session is resolved anew,
// also for a statement whose plan the session remembers (same text, same
// row description).
func TestMaskingAfterDDL(t *testing.T) {
	e := newEnv(t, envOptions{policyData: maskingData(), initSQL: maskingInit})
	ctx := ctxT(t)
	c := e.connect(t, "carol", "readers")
	const same = "SELECT tax_id FROM v_contacts ORDER BY id"
	for range 2 {
		got, err := collect(ctx, c, same, pgx.QueryExecModeSimpleProtocol)
		if err != nil || leak(got) != "" || strings.Contains(string(got), "Ada Lovelace") {
			t.Fatalf("before: %v %q %q", err, leak(got), got)
		}
	}
	// The view now exposes ssn under another name, through a new column.
	d := e.direct(t)
	if _, err := d.Exec(ctx, "CREATE OR REPLACE VIEW public.v_contacts AS SELECT id, name AS tax_id, upper(email) AS mail, name, ssn AS innocent FROM public.customers"); err != nil {
		t.Fatal(err)
	}
	// A DDL through the proxy by anyone invalidates the catalog cache.
	admin := e.connect(t, "ada", "admins")
	if _, err := admin.Exec(ctx, "CREATE TABLE scratch (id int)"); err != nil {
		t.Fatal(err)
	}
	got, err := collect(ctx, c, "SELECT innocent FROM v_contacts", pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		t.Fatal(err)
	}
	if l := leak(got); l != "" {
		t.Fatalf("redefined view leaked %q", l)
	}
	// And the column that no longer derives from ssn is no longer masked.
	got, err = collect(ctx, c, same, pgx.QueryExecModeSimpleProtocol)
	if err != nil || !strings.Contains(string(got), "Ada Lovelace") {
		t.Fatalf("after the view changed, tax_id is %q (%v), want the names unmasked", got, err)
	}
}

// TestMaskingClientDescribe: libpq sends Bind, Describe, Execute, Sync for
// every prepared statement; the proxy masks from the answer to the
// client's Describe (when it has not been flushed before the Execute) or
// from its own. Either way the client gets one RowDescription per Execute
// and no masked value, in text and binary.
func TestMaskingClientDescribe(t *testing.T) {
	e := newEnv(t, envOptions{policyData: maskingData(), initSQL: maskingInit})
	r := authed(t, e)
	r.send(t, encodeMsgs(&pgproto3.Parse{Name: "s", Query: "SELECT ssn, name, card_number FROM customers ORDER BY id"}, &pgproto3.Sync{}))
	r.until(t, nil)
	for _, tc := range []struct {
		name   string
		format int16
		split  bool // Describe and Execute in two writes, the first flushed alone
	}{
		{"text", 0, false},
		{"text-again", 0, false},
		{"binary", 1, false},
		{"text-split", 0, true},
		{"binary-split", 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bind := &pgproto3.Bind{PreparedStatement: "s", ResultFormatCodes: []int16{tc.format}}
			first := encodeMsgs(bind, &pgproto3.Describe{ObjectType: 'P'})
			rest := encodeMsgs(&pgproto3.Execute{}, &pgproto3.Sync{})
			if tc.split {
				r.send(t, first)
				time.Sleep(50 * time.Millisecond)
				r.send(t, rest)
			} else {
				r.send(t, append(first, rest...))
			}
			var got []byte
			rowDescs, rows := 0, 0
			r.until(t, func(m pgproto3.BackendMessage) {
				switch m := m.(type) {
				case *pgproto3.RowDescription:
					rowDescs++
					for _, f := range m.Fields {
						if f.Format != tc.format {
							t.Errorf("column %s in format %d, want %d", f.Name, f.Format, tc.format)
						}
					}
				case *pgproto3.DataRow:
					rows++
					for _, v := range m.Values {
						got = append(got, v...)
						got = append(got, '|')
					}
				case *pgproto3.ErrorResponse:
					t.Errorf("error: %s %s", m.Code, m.Message)
				}
			})
			if rowDescs != 1 || rows == 0 {
				t.Fatalf("got %d RowDescriptions and %d rows, want 1 and some", rowDescs, rows)
			}
			if l := leak(got); l != "" {
				t.Fatalf("masked value %q reached the client: %q", l, got)
			}
			if tc.format == 0 && !strings.Contains(string(got), "Ada Lovelace") {
				t.Fatalf("unmasked column missing: %q", got)
			}
		})
	}
}
