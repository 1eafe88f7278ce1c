package mask

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5/pgtype"
)

func TestAppendDataRow(t *testing.T) {
	h := mustHasher(t, testKey)
	cols := []Column{
		{TypeOID: pgtype.Int4OID},
		{Rule: Rule{Strategy: Email}, TypeOID: pgtype.TextOID},
		{TypeOID: pgtype.TextOID},
		{Rule: Rule{Strategy: Null}, TypeOID: pgtype.TextOID},
		{Rule: Rule{Strategy: Redact}, TypeOID: pgtype.Int8OID, Format: 1},
		{TypeOID: pgtype.TextOID},
		{Rule: Rule{Strategy: Partial}, TypeOID: pgtype.TextOID},
	}
	p := mustPlan(t, cols, h)
	prefix := []byte("previous message")
	in := dataRow([]byte("1"), []byte("ada@example.com"), []byte("kept"), []byte("x"),
		[]byte{0, 0, 0, 0, 0, 0, 0, 9}, nil, nil)
	out, err := p.AppendDataRow(append([]byte{}, prefix...), in)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(out, prefix) {
		t.Fatalf("dst prefix overwritten: %q", out)
	}
	got := parseDataRow(t, out[len(prefix):])
	want := [][]byte{[]byte("1"), []byte("****@example.com"), []byte("kept"), nil, make([]byte, 8), nil, nil}
	if len(got) != len(want) {
		t.Fatalf("got %d columns, want %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) || (got[i] == nil) != (want[i] == nil) {
			t.Errorf("column %d: got %q, want %q", i, got[i], want[i])
		}
	}
}

// TestAppendDataRowKeepAll: a plan that masks nothing copies the row.
func TestAppendDataRowKeepAll(t *testing.T) {
	p := mustPlan(t, []Column{{TypeOID: pgtype.TextOID}, {TypeOID: pgtype.Int4OID, Format: 1}}, nil)
	if p.Masks() {
		t.Fatal("Masks() = true for a keep-only plan")
	}
	in := dataRow([]byte("a"), nil)
	out, err := p.AppendDataRow(nil, in)
	if err != nil {
		t.Fatal(err)
	}
	want := append([]byte{'D'}, binary.BigEndian.AppendUint32(nil, uint32(len(in)+4))...)
	if want = append(want, in...); !bytes.Equal(out, want) {
		t.Fatalf("got %q, want %q", out, want)
	}
}

func TestAppendDataRowMalformed(t *testing.T) {
	p := mustPlan(t, []Column{{TypeOID: pgtype.TextOID}, {Rule: Rule{Strategy: Redact}, TypeOID: pgtype.TextOID}}, nil)
	good := dataRow([]byte("a"), []byte("b"))
	tests := []struct {
		name string
		body []byte
	}{
		{"empty", nil},
		{"one byte", []byte{0}},
		{"too few columns", dataRow([]byte("a"))},
		{"too many columns", dataRow([]byte("a"), []byte("b"), []byte("c"))},
		{"negative count", []byte{0xff, 0xff}},
		{"truncated length", good[:len(good)-4]},
		{"length past the end", good[:len(good)-1]},
		{"trailing bytes", append(append([]byte{}, good...), 0)},
		{"length -2", append(dataRow([]byte("a"))[:0:0], 0, 2, 0, 0, 0, 1, 'a', 0xff, 0xff, 0xff, 0xfe)},
		{"huge length", append([]byte{0, 2, 0x7f, 0xff, 0xff, 0xff}, 'a')},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := []byte("prefix")
			out, err := p.AppendDataRow(dst, tt.body)
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v, want ErrMalformed", err)
			}
			if string(out) != "prefix" {
				t.Fatalf("dst changed to %q on error", out)
			}
		})
	}
}

// TestZeroAllocs: masking a row allocates nothing once the plan's buffers
// have grown, whatever the strategy and format.
func TestZeroAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	h := mustHasher(t, testKey)
	hashed := benchColumns()
	hashed[3].Strategy, hashed[6].Strategy = Hash, Hash
	binaryCols := []Column{{Rule: Rule{Strategy: Hash}, TypeOID: pgtype.UUIDOID}, {Rule: partial, TypeOID: pgtype.TextOID}}
	binaryStream := binaryCopy(nil, [][]byte{make([]byte, 16), []byte("secret")})
	tuple := binaryStream[19 : len(binaryStream)-2]
	csvPlan := mustCopyPlan(t, CopyOptions{Format: CopyCSV}, hashed, h)
	var csvLine []byte
	for i, v := range benchValues {
		if i > 0 {
			csvLine = append(csvLine, ',')
		}
		csvLine = csvPlan.appendCSVValue(csvLine, []byte(v.val+"\n,\""))
	}
	csvLine = append(csvLine, '\n')
	binaryPlan := mustCopyPlan(t, CopyOptions{Format: CopyBinary}, binaryCols, h)
	if _, err := binaryPlan.AppendCopyData(nil, binaryStream[:19]); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		fn   func(dst, body []byte) ([]byte, error)
		in   []byte
	}{
		{"data row", mustPlan(t, benchColumns(), h).AppendDataRow, benchRow()},
		{"data row hash", mustPlan(t, hashed, h).AppendDataRow, benchRow()},
		{"copy text", mustCopyPlan(t, CopyOptions{}, hashed, h).AppendCopyData, benchCopyLine()},
		{"copy csv", csvPlan.AppendCopyData, csvLine},
		{"copy binary", binaryPlan.AppendCopyData, tuple},
	} {
		dst := make([]byte, 0, 8192)
		if n := testing.AllocsPerRun(100, func() {
			var err error
			if dst, err = tt.fn(dst[:0], tt.in); err != nil {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Errorf("%s: %v allocations per row, want 0", tt.name, n)
		}
	}
}
