package mask

import (
	"bytes"
	"testing"

	"github.com/jackc/pgx/v5/pgtype"
)

// fuzzOIDs are the types fuzzed columns draw from.
var fuzzOIDs = []uint32{
	pgtype.TextOID, pgtype.VarcharOID, pgtype.BPCharOID, pgtype.NameOID, pgtype.QCharOID,
	pgtype.JSONOID, pgtype.JSONBOID, pgtype.ByteaOID, pgtype.UUIDOID, pgtype.Int4OID,
	pgtype.NumericOID, pgtype.TimestamptzOID, pgtype.TextArrayOID, pgtype.InetOID,
	pgtype.BoolOID, pgtype.PointOID,
}

// fuzzColumns derives up to 8 columns from spec, two bytes each: the
// strategy and fill, then the type, format and type modifier.
func fuzzColumns(spec []byte) []Column {
	var cols []Column
	for i := 0; i+1 < len(spec) && len(cols) < 8; i += 2 {
		a, b := spec[i], spec[i+1]
		c := Column{
			Rule:    Rule{Strategy: Strategy(a % 6), KeepLast: int(a>>3) % 6},
			TypeOID: fuzzOIDs[int(b&0x0f)%len(fuzzOIDs)],
			Format:  int16(b >> 7),
		}
		if a&0x80 != 0 {
			c.Fill = '•'
		}
		if b&0x40 != 0 {
			c.TypeMod = int32(b&0x30)>>4 + 5
		}
		if a&0x40 != 0 {
			c.HashEncoding, c.HashLength = HashBase64, 12
		}
		cols = append(cols, c)
	}
	return cols
}

// FuzzDataRow: arbitrary bodies never panic; a well-formed row of the
// plan's width is always accepted and stays well-formed, with kept and NULL
// values unchanged and masked values readable as their type.
func FuzzDataRow(f *testing.F) {
	f.Add([]byte{1, 0, 3, 1, 4, 0x88}, dataRow([]byte("a@b.c"), []byte("secret"), nil))
	f.Add([]byte{2, 0x86, 3, 0x85}, dataRow([]byte("x"), []byte("\x01{}")))
	f.Add([]byte{4, 0x88, 4, 0x07}, dataRow(make([]byte, 16), []byte(`\xzz`)))
	f.Add([]byte{0, 0}, []byte{0, 1, 0xff, 0xff, 0xff, 0xfe})
	h := mustHasher(f, testKey)
	m := pgtype.NewMap()
	f.Fuzz(func(t *testing.T, spec, body []byte) {
		cols := fuzzColumns(spec)
		p, err := NewPlan(cols, h)
		if err != nil {
			t.Fatalf("NewPlan(%+v): %v", cols, err)
		}
		in, wellFormed := splitDataRow(body)
		wellFormed = wellFormed && len(in) == len(cols)
		out, err := p.AppendDataRow([]byte("prefix"), body)
		if err != nil {
			if wellFormed {
				t.Fatalf("well-formed row %q refused: %v", body, err)
			}
			if string(out) != "prefix" {
				t.Fatalf("dst changed to %q on error", out)
			}
			return
		}
		if !wellFormed {
			t.Fatalf("malformed row %q accepted", body)
		}
		if !bytes.HasPrefix(out, []byte("prefix")) {
			t.Fatalf("dst prefix overwritten: %q", out)
		}
		got := parseDataRow(t, out[len("prefix"):])
		if len(got) != len(cols) {
			t.Fatalf("%d columns in, %d out", len(cols), len(got))
		}
		for i, c := range cols {
			switch {
			case c.Strategy == Keep || in[i] == nil:
				if !bytes.Equal(got[i], in[i]) || (got[i] == nil) != (in[i] == nil) {
					t.Fatalf("column %d: %q became %q", i, in[i], got[i])
				}
			case got[i] != nil:
				if _, ok := m.TypeForOID(c.TypeOID); ok {
					decode(t, m, c.TypeOID, c.Format, got[i])
				}
			}
		}
	})
}

// fuzzCopyOptions are the COPY option sets FuzzCopy draws from.
var fuzzCopyOptions = []CopyOptions{
	{},
	{Delimiter: '|', Null: strptr("NULL"), Header: true},
	{Delimiter: ',', Null: strptr("")},
	{Format: CopyCSV},
	{Format: CopyCSV, Delimiter: ';', Quote: '\'', Escape: '\\', Null: strptr("NULL"), Header: true},
	{Format: CopyCSV, Delimiter: '\t', Null: strptr("****")},
	{Format: CopyBinary},
}

// FuzzCopy: arbitrary COPY data, split anywhere, never panics; what the
// plan accepts comes out as rows that a keep-only plan of the same width
// reads back, as many as went in.
func FuzzCopy(f *testing.F) {
	f.Add(uint8(0), []byte{1, 0, 3, 0}, []byte("1\tab\\tc\n\\N\tx\n"), uint16(3))
	f.Add(uint8(1), []byte{0, 0, 1, 0}, []byte("id|v\n1|NULL\n2|a\\|b\n"), uint16(7))
	f.Add(uint8(3), []byte{3, 0, 2, 0}, []byte("\"a,\"\"b\",\n\"x\ny\",z\n"), uint16(5))
	f.Add(uint8(4), []byte{0, 0, 3, 0}, []byte("h;h\n1;'it\\'s'\n"), uint16(9))
	f.Add(uint8(6), []byte{0, 0, 4, 0x88, 1, 0}, binaryCopy([]byte("x"), [][]byte{{0, 0, 0, 1}, make([]byte, 16), nil}), uint16(20))
	h := mustHasher(f, testKey)
	f.Fuzz(func(t *testing.T, variant uint8, spec, data []byte, cut uint16) {
		opts := fuzzCopyOptions[int(variant)%len(fuzzCopyOptions)]
		opts.MaxRow = 1 << 12
		cols := fuzzColumns(spec)
		p, err := NewCopyPlan(opts, cols, h)
		if err != nil {
			t.Fatalf("NewCopyPlan: %v", err)
		}
		at := int(cut) % (len(data) + 1)
		var out []byte
		for _, m := range [][]byte{data[:at], data[at:]} {
			if out, err = p.AppendCopyData(out, m); err != nil {
				return
			}
		}
		if p.Finish() != nil {
			return
		}
		payload := bytes.Join(splitCopyData(t, out), nil)
		keep := make([]Column, len(cols))
		for i := range keep {
			keep[i].TypeOID = cols[i].TypeOID
		}
		check := mustCopyPlan(t, opts, keep, nil)
		if _, err := check.AppendCopyData(nil, payload); err != nil {
			t.Fatalf("masked output %q of %q does not read back: %v", payload, data, err)
		}
		if err := check.Finish(); err != nil {
			t.Fatalf("masked output %q of %q does not end cleanly: %v", payload, data, err)
		}
		if check.rows != p.rows {
			t.Fatalf("%d rows in, %d rows out", p.rows, check.rows)
		}
	})
}
