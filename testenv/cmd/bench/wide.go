package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/interlock-dev/interlock/testenv"
)

// The wide-result workload reads wideRows rows of public.wide per
// transaction. Three columns are tagged pii in interlockd's policy data, so
// they are masked for the bench identity (group admins) and not for a
// member of pii-readers, the default policy's unmasked group.
const (
	wideTable  = "wide"
	wideRows   = 10000
	wideScript = "SELECT * FROM " + wideTable + ";\n"
	// unmaskedGroup is the default policy's group that sees pii columns.
	unmaskedGroup = "pii-readers"
)

// wideColumn is a column of public.wide: its type, the expression of row g
// (deterministic), and the mask rule when it is masked.
type wideColumn struct {
	Name, Type, Expr string
	Mask             map[string]any
}

// wideColumns mixes the types a customer table has: numbers, text of
// several lengths, time, uuid, json, network, binary and arrays.
var wideColumns = []wideColumn{
	{Name: "c1", Type: "bigint PRIMARY KEY", Expr: "g"},
	{Name: "c2", Type: "integer NOT NULL", Expr: "(g * 7919) % 1000003"},
	{Name: "c3", Type: "text", Expr: "lpad(((g::bigint * 2654435761) % 10000000000000000)::text, 16, '4')",
		Mask: map[string]any{"strategy": "partial", "keep": 4}},
	{Name: "c4", Type: "numeric(12,2)", Expr: "round((g * 37.13) % 100000, 2)"},
	{Name: "c5", Type: "timestamptz", Expr: "timestamptz '2026-01-01 00:00:00+00' + g * interval '37 seconds'"},
	{Name: "c6", Type: "boolean", Expr: "g % 3 = 0"},
	{Name: "c7", Type: "text", Expr: "'customer' || g || '@example.com'",
		Mask: map[string]any{"strategy": "email"}},
	{Name: "c8", Type: "double precision", Expr: "(g / 7.0)::float8"},
	{Name: "c9", Type: "date", Expr: "date '2020-01-01' + g % 2000"},
	{Name: "c10", Type: "uuid", Expr: "md5(g::text)::uuid"},
	{Name: "c11", Type: "varchar(40)", Expr: "'name-' || md5((g * 3)::text)"},
	{Name: "c12", Type: "text", Expr: "lpad(((g * 104729) % 1000000000)::text, 9, '0')",
		Mask: map[string]any{"strategy": "redact"}},
	{Name: "c13", Type: "smallint", Expr: "(g % 30000)::smallint"},
	{Name: "c14", Type: "jsonb", Expr: "jsonb_build_object('k', g, 'tag', 't' || g % 10)"},
	{Name: "c15", Type: "inet", Expr: "('10.' || (g / 65536) % 256 || '.' || (g / 256) % 256 || '.' || g % 256)::inet"},
	{Name: "c16", Type: "interval", Expr: "g * interval '1 minute'"},
	{Name: "c17", Type: "bytea", Expr: "decode(md5(g::text), 'hex')"},
	{Name: "c18", Type: "integer[]", Expr: "ARRAY[g, g + 1, g + 2]"},
	{Name: "c19", Type: "time", Expr: "time '00:00' + g * interval '1 second'"},
	{Name: "c20", Type: "text", Expr: "CASE WHEN g % 10 = 0 THEN NULL ELSE 'note for row ' || g || ': ' || repeat('x', g % 40) END"},
}

// wideMaskedNames are the masked columns' names.
func wideMaskedNames() []string {
	var out []string
	for _, c := range wideColumns {
		if c.Mask != nil {
			out = append(out, c.Name)
		}
	}
	return out
}

// widePolicyData is interlockd's policy data: the masked columns, tagged
// pii with their rules.
func widePolicyData() map[string]any {
	cols := map[string]any{}
	for _, c := range wideColumns {
		if c.Mask != nil {
			cols["public."+wideTable+"."+c.Name] = map[string]any{"tags": []any{"pii"}, "mask": c.Mask}
		}
	}
	return map[string]any{"columns": cols}
}

// wideSQL creates and fills the table.
func wideSQL() []string {
	defs := make([]string, len(wideColumns))
	exprs := make([]string, len(wideColumns))
	for i, c := range wideColumns {
		defs[i] = c.Name + " " + c.Type
		exprs[i] = c.Expr
	}
	return []string{
		"CREATE TABLE " + wideTable + " (" + strings.Join(defs, ", ") + ")",
		fmt.Sprintf("INSERT INTO %s SELECT %s FROM generate_series(1, %d) AS g", wideTable, strings.Join(exprs, ", "), wideRows),
		"VACUUM ANALYZE " + wideTable,
	}
}

// setupWide creates public.wide as interlock_admin (the database owner, the
// role every target logs in as) and measures the result's size.
func setupWide(ctx context.Context, st *stack) (setupResult, error) {
	conn, err := st.pg.Connect(ctx, testenv.RoleAdmin, testenv.RoleAdminPassword, "")
	if err != nil {
		return setupResult{}, err
	}
	defer conn.Close(context.Background())
	for _, q := range wideSQL() {
		if _, err := conn.Exec(ctx, q); err != nil {
			return setupResult{}, fmt.Errorf("create %s table: %w", wideTable, err)
		}
	}
	var rows, size int64
	rr := conn.PgConn().ExecParams(ctx, strings.TrimSuffix(strings.TrimSpace(wideScript), ";"), nil, nil, nil, nil)
	for rr.NextRow() {
		rows++
		size += dataRowSize(rr.Values())
	}
	if _, err := rr.Close(); err != nil {
		return setupResult{}, fmt.Errorf("measure %s result: %w", wideTable, err)
	}
	if rows != wideRows {
		return setupResult{}, fmt.Errorf("measure %s result: %d rows, want %d", wideTable, rows, wideRows)
	}
	return setupResult{
		BytesPerTxn: size,
		Note: fmt.Sprintf("A transaction reads %s bytes of DataRow messages (text format, as PostgreSQL sends them); MB/s counts these bytes",
			fmtNum(float64(size), 0)),
	}, nil
}

// dataRowSize is the wire size of a DataRow with these values: type byte,
// length, column count, and per column a length and the bytes (none for
// NULL, which is a nil value).
func dataRowSize(values [][]byte) int64 {
	n := int64(1 + 4 + 2)
	for _, v := range values {
		n += 4 + int64(len(v))
	}
	return n
}
