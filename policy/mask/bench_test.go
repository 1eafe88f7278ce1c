package mask

import (
	"testing"

	"github.com/jackc/pgx/v5/pgtype"
)

// benchValues is a realistic 20-column customer row in text format.
var benchValues = []struct {
	oid  uint32
	val  string
	rule Rule
}{
	{pgtype.Int8OID, "184467", Rule{}},
	{pgtype.Int4OID, "99231", Rule{}},
	{pgtype.TextOID, "Barbara Liskov", Rule{}},
	{pgtype.TextOID, "barbara.liskov@example.com", Rule{Strategy: Email}},
	{pgtype.TextOID, "456-78-9012", Rule{Strategy: Partial}},
	{pgtype.TextOID, "+1-555-0105", Rule{Strategy: Redact}},
	{pgtype.TextOID, "545 Technology Square", Rule{}},
	{pgtype.TextOID, "Cambridge", Rule{}},
	{pgtype.BPCharOID, "MA", Rule{}},
	{pgtype.VarcharOID, "02139", Rule{}},
	{pgtype.TextOID, "United States", Rule{}},
	{pgtype.TimestamptzOID, "2024-05-06 17:20:00+00", Rule{}},
	{pgtype.TimestamptzOID, "2024-06-07 09:15:31.123456+00", Rule{}},
	{pgtype.NumericOID, "250.00", Rule{}},
	{pgtype.TextOID, "active", Rule{}},
	{pgtype.TextOID, "gold", Rule{}},
	{pgtype.TextOID, "O'Brien referral; prefers email contact after 5pm", Rule{}},
	{pgtype.TextArrayOID, "{vip,referral}", Rule{}},
	{pgtype.Float8OID, "0.87", Rule{}},
	{pgtype.BoolOID, "t", Rule{}},
}

func benchColumns() []Column {
	cols := make([]Column, len(benchValues))
	for i, v := range benchValues {
		cols[i] = Column{Rule: v.rule, TypeOID: v.oid}
	}
	return cols
}

func benchRow() []byte {
	vals := make([][]byte, len(benchValues))
	for i, v := range benchValues {
		vals[i] = []byte(v.val)
	}
	return dataRow(vals...)
}

func benchCopyLine() []byte {
	var b []byte
	for i, v := range benchValues {
		if i > 0 {
			b = append(b, '\t')
		}
		b = appendTextEscaped(b, []byte(v.val), '\t')
	}
	return append(b, '\n')
}

func benchDataRow(b *testing.B, cols []Column) {
	p := mustPlan(b, cols, mustHasher(b, testKey))
	body := benchRow()
	dst := make([]byte, 0, 4096)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if dst, err = p.AppendDataRow(dst[:0], body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDataRow masks 3 of 20 columns (email, partial, redact) of a
// 340-byte row.
func BenchmarkDataRow(b *testing.B) { benchDataRow(b, benchColumns()) }

// BenchmarkDataRowHash hashes the email column instead.
func BenchmarkDataRowHash(b *testing.B) {
	cols := benchColumns()
	cols[3].Strategy = Hash
	benchDataRow(b, cols)
}

// BenchmarkDataRowKeep is the floor: a plan that keeps every column.
func BenchmarkDataRowKeep(b *testing.B) { benchDataRow(b, make([]Column, len(benchValues))) }

func benchCopy(b *testing.B, opts CopyOptions, line []byte) {
	p := mustCopyPlan(b, opts, benchColumns(), mustHasher(b, testKey))
	dst := make([]byte, 0, 4096)
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if dst, err = p.AppendCopyData(dst[:0], line); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCopyText masks the same row as one COPY text line.
func BenchmarkCopyText(b *testing.B) { benchCopy(b, CopyOptions{}, benchCopyLine()) }

// BenchmarkCopyCSV masks it as one csv line.
func BenchmarkCopyCSV(b *testing.B) {
	p := mustCopyPlan(b, CopyOptions{Format: CopyCSV}, benchColumns(), nil)
	var line []byte
	for i, v := range benchValues {
		if i > 0 {
			line = append(line, ',')
		}
		line = p.appendCSVValue(line, []byte(v.val))
	}
	benchCopy(b, CopyOptions{Format: CopyCSV}, append(line, '\n'))
}
