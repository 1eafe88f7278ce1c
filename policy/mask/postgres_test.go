package mask

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/interlock-dev/interlock/testenv"
)

// nastySQL adds a table whose text values hold what COPY must escape or
// quote: delimiters, quotes, backslashes, newlines, null strings and the
// end marker; and one with the types all_types lacks.
const nastySQL = `
CREATE TABLE nasty (id int PRIMARY KEY, a text, b varchar(12), c char(6), d text, e bytea, f jsonb, g text[]);
INSERT INTO nasty VALUES
	(1, E'tab\there', E'new\nline', 'a,b', E'back\\slash', '\x0a0d09', '{"k": "v\t"}', '{"a\tb","c,d"}'),
	(2, '"quoted"', E'cr\rx', '', 'NULL', '\x', '[]', '{}'),
	(3, E'\\.', ';|,!''', NULL, '\N', NULL, 'null', NULL),
	(4, '', 'ada@ex.com', 'x', E'a\\.b', '\x5c', '"s"', '{NULL}'),
	(5, 'ünïcødé ✓', 'x@y', NULL, '''', NULL, '{}', '{"\\\\"}');

CREATE TABLE more_types AS
SELECT 1 AS id, '$1.00'::money AS c_money, '03:04:05+02'::timetz AS c_timetz,
	'192.0.2.0/24'::cidr AS c_cidr, '08:00:2b:01:02:03'::macaddr AS c_macaddr,
	'08:00:2b:01:02:03:04:05'::macaddr8 AS c_macaddr8, 12345::oid AS c_oid,
	'relname'::name AS c_name, 'x'::"char" AS c_char, '{1,2}'::int2[] AS c_int2_array,
	'{abc}'::varchar(3)[] AS c_varchar_array, '{2024-01-02}'::date[] AS c_date_array,
	'{1.5}'::numeric[] AS c_numeric_array, '{t}'::bool[] AS c_bool_array,
	'{"\\x01"}'::bytea[] AS c_bytea_array, '{"{}"}'::json[] AS c_json_array,
	'{192.0.2.1}'::inet[] AS c_inet_array, '{1 day}'::interval[] AS c_interval_array,
	'{03:04:05}'::time[] AS c_time_array, '{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}'::uuid[] AS c_uuid_array,
	'{"2024-01-02 03:04:05+00"}'::timestamptz[] AS c_timestamptz_array,
	'(1,2)'::point AS c_point, '<a>x</a>'::xml AS c_xml
UNION ALL
SELECT 2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
	NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL;
`

// secrets are values of the sample tables no masked output may contain.
var secrets = []string{"hello", "varchar value", "ada@example.com", "a0eebc99", "tab", "quoted", "slash"}

var (
	pgOnce sync.Once
	pgDSN  string
)

// samplePostgres starts one cluster, with the sample data and the nasty
// table, for the tests of this package.
func samplePostgres(t *testing.T) (context.Context, *pgx.Conn) {
	t.Helper()
	pg := testenv.NewPostgres(t, testenv.PostgresOptions{SampleData: true, StandardRoles: true, InitSQL: []string{nastySQL}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	conn, err := pg.Connect(ctx, pg.Superuser, pg.SuperuserPassword, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	if _, err := conn.Exec(ctx, "SET TimeZone = 'UTC'"); err != nil {
		t.Fatal(err)
	}
	return ctx, conn
}

// result is a query result with its raw values.
type result struct {
	fields []pgconn.FieldDescription
	rows   [][][]byte
}

func query(t *testing.T, ctx context.Context, conn *pgx.Conn, sql string, format int16) result {
	t.Helper()
	rr := conn.PgConn().ExecParams(ctx, sql, nil, nil, nil, []int16{format})
	var r result
	r.fields = append(r.fields, rr.FieldDescriptions()...)
	for rr.NextRow() {
		row := make([][]byte, len(rr.Values()))
		for i, v := range rr.Values() {
			if v != nil {
				row[i] = append([]byte{}, v...)
			}
		}
		r.rows = append(r.rows, row)
	}
	if _, err := rr.Close(); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return r
}

// columns masks every column but the first (id) with rule.
func columns(fields []pgconn.FieldDescription, rule Rule, format int16) []Column {
	cols := make([]Column, len(fields))
	for i, f := range fields {
		cols[i] = Column{TypeOID: f.DataTypeOID, TypeMod: f.TypeModifier, Format: format}
		if i > 0 {
			cols[i].Rule = rule
		}
	}
	return cols
}

// serverText has the server read v as a value of type oid in format (its
// input or receive function) and returns the value's text form.
func serverText(t *testing.T, ctx context.Context, conn *pgx.Conn, oid uint32, format int16, v []byte) string {
	t.Helper()
	rr := conn.PgConn().ExecParams(ctx, "SELECT $1", [][]byte{v}, []uint32{oid}, []int16{format}, []int16{0})
	var out string
	for rr.NextRow() {
		out = string(rr.Values()[0])
	}
	if _, err := rr.Close(); err != nil {
		t.Fatalf("server rejects masked value %q of type %d in format %d: %v", v, oid, format, err)
	}
	return out
}

var sampleTables = []string{"all_types", "customers", "nasty", "more_types"}

// TestPostgresDataRow masks the server's own rows of every sample table
// with every strategy in both formats. Each masked value is read back by
// pgtype and by the server's input or receive function for the column's
// type, fits the column's length, and means the same in both formats.
func TestPostgresDataRow(t *testing.T) {
	ctx, conn := samplePostgres(t)
	h := mustHasher(t, testKey)
	m := pgtype.NewMap()
	// Every entry of the type table: the server reads the redacted value in
	// both formats as the same value, and the array element types are right.
	t.Run("type table", func(t *testing.T) {
		oids := make([]uint32, 0, len(scalarTypes)+len(arrayElems))
		for oid := range scalarTypes {
			oids = append(oids, oid)
		}
		for arr, elem := range arrayElems {
			var typelem uint32
			if err := conn.QueryRow(ctx, "SELECT typelem FROM pg_type WHERE oid = $1", arr).Scan(&typelem); err != nil {
				t.Fatalf("array type %d: %v", arr, err)
			}
			if typelem != elem {
				t.Errorf("array type %d has element type %d, the table says %d", arr, typelem, elem)
			}
			oids = append(oids, arr)
		}
		for _, oid := range oids {
			var texts [2]string
			for format := range int16(2) {
				v := maskValue(t, Column{Rule: Rule{Strategy: Redact}, TypeOID: oid, Format: format}, nil, []byte("x"))
				texts[format] = serverText(t, ctx, conn, oid, format, v)
			}
			if texts[0] != texts[1] {
				t.Errorf("type %d: redacted text reads as %q, binary as %q", oid, texts[0], texts[1])
			}
		}
	})
	for _, table := range sampleTables {
		for _, st := range maskStrategies {
			t.Run(table+"/"+st.String(), func(t *testing.T) {
				// texts[format][row][col] is the server's text of the masked value.
				var texts [2][][]*string
				for format := range int16(2) {
					r := query(t, ctx, conn, "SELECT * FROM "+table+" ORDER BY id", format)
					if len(r.rows) == 0 {
						t.Fatalf("%s is empty", table)
					}
					p := mustPlan(t, columns(r.fields, Rule{Strategy: st}, format), h)
					for _, row := range r.rows {
						out, err := p.AppendDataRow(nil, dataRow(row...))
						if err != nil {
							t.Fatal(err)
						}
						masked := parseDataRow(t, out)
						if !bytes.Equal(masked[0], row[0]) {
							t.Fatalf("id %q became %q", row[0], masked[0])
						}
						rowTexts := make([]*string, len(masked))
						for j := 1; j < len(masked); j++ {
							f, v := r.fields[j], masked[j]
							switch {
							case row[j] == nil || st == Null || !Redactable(f.DataTypeOID):
								if v != nil {
									t.Fatalf("%s: got %q, want NULL", f.Name, v)
								}
								continue
							case v == nil:
								t.Fatalf("%s: got NULL for %q", f.Name, row[j])
							}
							for _, s := range secrets {
								if strings.Contains(string(v), s) {
									t.Fatalf("%s: masked %q still holds %q", f.Name, v, s)
								}
							}
							if _, ok := m.TypeForOID(f.DataTypeOID); ok {
								decode(t, m, f.DataTypeOID, format, v)
							}
							text := serverText(t, ctx, conn, f.DataTypeOID, format, v)
							if f.TypeModifier >= 5 && (f.DataTypeOID == pgtype.VarcharOID || f.DataTypeOID == pgtype.BPCharOID) {
								if n := len([]rune(text)); n > int(f.TypeModifier)-4 {
									t.Fatalf("%s: %q is longer than %d characters", f.Name, text, f.TypeModifier-4)
								}
							}
							rowTexts[j] = &text
						}
						texts[format] = append(texts[format], rowTexts)
					}
				}
				for i := range texts[0] {
					for j := range texts[0][i] {
						a, b := texts[0][i][j], texts[1][i][j]
						if (a == nil) != (b == nil) || a != nil && *a != *b {
							t.Errorf("row %d column %d: text format masks to %v, binary to %v", i, j, deref(a), deref(b))
						}
					}
				}
			})
		}
	}
}

func deref(s *string) string {
	if s == nil {
		return "NULL"
	}
	return fmt.Sprintf("%q", *s)
}

// copyVariant is one set of COPY options, as the statement writes them
// and as CopyOptions.
type copyVariant struct {
	name     string
	to, from string // the option lists of COPY TO and COPY FROM
	opts     CopyOptions
}

var copyVariants = []copyVariant{
	{"text", "", "", CopyOptions{}},
	{"text pipe null header", "(DELIMITER '|', NULL 'NULL', HEADER)", "(DELIMITER '|', NULL 'NULL', HEADER)",
		CopyOptions{Delimiter: '|', Null: strptr("NULL"), Header: true}},
	{"text comma empty null", "(DELIMITER ',', NULL '')", "(DELIMITER ',', NULL '')",
		CopyOptions{Delimiter: ',', Null: strptr("")}},
	{"text null is the redact marker", "(NULL '****')", "(NULL '****')", CopyOptions{Null: strptr("****")}},
	{"csv", "(FORMAT csv)", "(FORMAT csv)", CopyOptions{Format: CopyCSV}},
	{"csv semicolon quote escape null header", `(FORMAT csv, DELIMITER ';', QUOTE '''', ESCAPE '\', NULL 'NULL', HEADER)`,
		`(FORMAT csv, DELIMITER ';', QUOTE '''', ESCAPE '\', NULL 'NULL', HEADER)`,
		CopyOptions{Format: CopyCSV, Delimiter: ';', Quote: '\'', Escape: '\\', Null: strptr("NULL"), Header: true}},
	{"csv pipe bang force quote", "(FORMAT csv, DELIMITER '|', QUOTE '!', NULL '****', FORCE_QUOTE *)",
		"(FORMAT csv, DELIMITER '|', QUOTE '!', NULL '****')",
		CopyOptions{Format: CopyCSV, Delimiter: '|', Quote: '!', Null: strptr("****")}},
	{"binary", "(FORMAT binary)", "(FORMAT binary)", CopyOptions{Format: CopyBinary}},
}

// ambiguousAsNull returns row with the values that the text format
// cannot tell from NULL, those equal to a NULL string other than \N,
// made NULL: PostgreSQL writes them as the NULL string and reads them
// back as NULL, and the rewriter treats them as NULL too.
func ambiguousAsNull(row [][]byte, opts CopyOptions) [][]byte {
	if opts.Format != CopyText || opts.Null == nil {
		return row
	}
	out := make([][]byte, len(row))
	for i, v := range row {
		if string(v) != *opts.Null {
			out[i] = v
		}
	}
	return out
}

// msgWriter keeps each CopyData payload pgconn writes as one message.
type msgWriter struct{ msgs [][]byte }

func (w *msgWriter) Write(b []byte) (int, error) {
	w.msgs = append(w.msgs, append([]byte{}, b...))
	return len(b), nil
}

// TestPostgresCopy masks real COPY TO STDOUT output of every sample table,
// in every variant, with every strategy, loads it back with COPY FROM
// STDIN into a copy of the table, and checks that the loaded rows equal
// the table's rows masked as DataRows (with Keep: the table's rows).
func TestPostgresCopy(t *testing.T) {
	ctx, conn := samplePostgres(t)
	h := mustHasher(t, testKey)
	exec := func(t *testing.T, sql string, args ...any) {
		t.Helper()
		if _, err := conn.Exec(ctx, sql, args...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	rowsText := func(t *testing.T, table string) []string {
		t.Helper()
		r := query(t, ctx, conn, "SELECT t::text FROM "+table+" t ORDER BY id", 0)
		var out []string
		for _, row := range r.rows {
			out = append(out, string(row[0]))
		}
		return out
	}
	for _, table := range sampleTables {
		fields := query(t, ctx, conn, "SELECT * FROM "+table+" LIMIT 0", 0).fields
		original := query(t, ctx, conn, "SELECT * FROM "+table+" ORDER BY id", 0)
		for _, v := range copyVariants {
			var w msgWriter
			if _, err := conn.PgConn().CopyTo(ctx, &w, "COPY "+table+" TO STDOUT "+v.to); err != nil {
				t.Fatalf("copy %s to stdout %s: %v", table, v.to, err)
			}
			for _, st := range append([]Strategy{Keep}, maskStrategies...) {
				t.Run(table+"/"+v.name+"/"+st.String(), func(t *testing.T) {
					p := mustCopyPlan(t, v.opts, columns(fields, Rule{Strategy: st}, 0), h)
					payload := copyThrough(t, p, w.msgs...)
					if st != Keep {
						for _, s := range secrets {
							if bytes.Contains(payload, []byte(s)) {
								t.Fatalf("masked COPY data still holds %q:\n%q", s, payload)
							}
						}
					}
					exec(t, "DROP TABLE IF EXISTS scratch, expected")
					exec(t, "CREATE TABLE scratch AS SELECT * FROM "+table+" WITH NO DATA")
					exec(t, "CREATE TABLE expected AS SELECT * FROM "+table+" WITH NO DATA")
					if _, err := conn.PgConn().CopyFrom(ctx, bytes.NewReader(payload), "COPY scratch FROM STDIN "+v.from); err != nil {
						t.Fatalf("server rejects the masked COPY data: %v\n%q", err, payload)
					}
					// The expected rows: the table's rows masked as DataRows.
					dp := mustPlan(t, columns(fields, Rule{Strategy: st}, 0), h)
					params := make([]string, len(fields))
					for i := range params {
						params[i] = fmt.Sprintf("$%d", i+1)
					}
					insert := "INSERT INTO expected VALUES (" + strings.Join(params, ",") + ")"
					for _, row := range original.rows {
						row = ambiguousAsNull(row, v.opts)
						out, err := dp.AppendDataRow(nil, dataRow(row...))
						if err != nil {
							t.Fatal(err)
						}
						rr := conn.PgConn().ExecParams(ctx, insert, parseDataRow(t, out), nil, nil, nil)
						if _, err := rr.Close(); err != nil {
							t.Fatalf("insert the masked row: %v", err)
						}
					}
					got, want := rowsText(t, "scratch"), rowsText(t, "expected")
					if strings.Join(got, "\n") != strings.Join(want, "\n") {
						t.Fatalf("loaded rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
					}
				})
			}
		}
	}
}
