package mask

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgtype"
)

func strptr(s string) *string { return &s }

func textCols(rules ...Rule) []Column {
	cols := make([]Column, len(rules))
	for i, r := range rules {
		cols[i] = Column{Rule: r, TypeOID: pgtype.TextOID}
	}
	return cols
}

var (
	keep    = Rule{}
	redact  = Rule{Strategy: Redact}
	partial = Rule{Strategy: Partial}
	email   = Rule{Strategy: Email}
)

func TestCopyTextAndCSV(t *testing.T) {
	tests := []struct {
		name string
		opts CopyOptions
		cols []Column
		in   string
		want string
	}{
		{
			name: "text escapes",
			cols: textCols(keep, partial, redact, keep, email),
			in:   "1\tab\\tcd\\\\efgh\t\\N\tkeep\\tme\tada@example.com\n",
			want: "1\t******efgh\t\\N\tkeep\\tme\t****@example.com\n",
		},
		{
			name: "text masked value is escaped",
			cols: textCols(partial, keep),
			in:   "x\\ty\\\\z\\n\tk\n",
			want: "**y\\\\z\\n\tk\n",
		},
		{
			name: "text other escapes are read",
			cols: textCols(Rule{Strategy: Partial, KeepLast: 7}),
			in:   "abcdef\\x41\\102\\b\\v\\f\\r\\q\n",
			want: "******AB\\b\\v\\f\\rq\n",
		},
		{
			name: "text delimiter",
			opts: CopyOptions{Delimiter: '|', Null: strptr("NULL")},
			cols: textCols(Rule{Strategy: Partial, KeepLast: 2}, keep, redact),
			in:   "ab\\|c|d\\|e|NULL\n",
			want: "**\\|c|d\\|e|NULL\n",
		},
		{
			name: "text odd backslash runs",
			cols: textCols(keep, redact, keep),
			in:   "a\\\\\tb\\\\\\tc\td\n",
			want: "a\\\\\t****\td\n",
		},
		{
			name: "text header and rows",
			opts: CopyOptions{Header: true},
			cols: textCols(keep, redact),
			in:   "id\tsecret\textra header\n1\tx\n2\t\\N\n",
			want: "id\tsecret\textra header\n1\t****\n2\t\\N\n",
		},
		{
			name: "text end marker",
			cols: textCols(redact),
			in:   "x\n\\.\n",
			want: "****\n\\.\n",
		},
		{
			name: "text empty value is not NULL",
			cols: textCols(keep, redact),
			in:   "1\t\n",
			want: "1\t****\n",
		},
		{
			name: "text masked value equal to null is escaped",
			opts: CopyOptions{Null: strptr("NULL")},
			cols: textCols(Rule{Strategy: Partial, KeepLast: 3, Fill: 'N'}, redact),
			in:   "xULL\tNULL\n",
			want: "N\\ULL\tNULL\n",
		},
		{
			name: "text redact marker equal to null is escaped",
			opts: CopyOptions{Null: strptr("****")},
			cols: textCols(redact, keep),
			in:   "x\t****\n",
			want: "\\****\t****\n",
		},
		{
			name: "csv quotes",
			opts: CopyOptions{Format: CopyCSV},
			cols: textCols(keep, Rule{Strategy: Partial, KeepLast: 2}, redact, redact, email),
			in:   "1,\"a,b\"\"c\",,\"\",ada@example.com\n",
			want: "1,\"***\"\"c\",,****,****@example.com\n",
		},
		{
			name: "csv newline in quotes",
			opts: CopyOptions{Format: CopyCSV},
			cols: textCols(keep, partial, keep),
			in:   "2,\"line1\nline2\",\"x\ny\"\n",
			want: "2,*******ine2,\"x\ny\"\n",
		},
		{
			name: "csv kept tail after masked",
			opts: CopyOptions{Format: CopyCSV},
			cols: textCols(redact, keep, keep),
			in:   "a,\"b,c\",d\n",
			want: "****,\"b,c\",d\n",
		},
		{
			name: "csv masked value needs quotes",
			opts: CopyOptions{Format: CopyCSV},
			cols: textCols(Rule{Strategy: Partial, KeepLast: 3}),
			in:   "\"abcd,\r\n\"\n",
			want: "\"****,\r\n\"\n",
		},
		{
			name: "csv escape, quote, delimiter, null, header",
			opts: CopyOptions{Format: CopyCSV, Delimiter: ';', Quote: '\'', Escape: '\\', Null: strptr("NULL"), Header: true},
			cols: textCols(keep, Rule{Strategy: Partial, KeepLast: 3}, redact, Rule{Strategy: Partial, KeepLast: 2}, Rule{Strategy: Partial, KeepLast: 1}),
			in:   "id;'a;b';c;d;e\n1;'it\\'s; \\\\ok';NULL;'x\\'y';'x''y'\n",
			want: "id;'a;b';c;d;e\n1;******\\ok;NULL;'*\\'y';*y\n",
		},
		{
			name: "csv masked value equal to null is quoted",
			opts: CopyOptions{Format: CopyCSV, Null: strptr("****")},
			cols: textCols(redact, redact),
			in:   "x,****\n",
			want: "'****',****\n",
		},
		{
			name: "csv mid-field quotes",
			opts: CopyOptions{Format: CopyCSV},
			cols: textCols(partial, keep),
			in:   "ab\"c,d\"ef,g\n",
			want: "\"***,def\",g\n",
		},
		{
			name: "csv end marker",
			opts: CopyOptions{Format: CopyCSV},
			cols: textCols(redact),
			in:   "x\n\"\\.\"\n\\.\n",
			want: "****\n****\n\\.\n",
		},
		{
			name: "no columns",
			cols: nil,
			in:   "\n\n",
			want: "\n\n",
		},
		{
			name: "csv no columns",
			opts: CopyOptions{Format: CopyCSV},
			cols: nil,
			in:   "\n",
			want: "\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name == "csv masked value equal to null is quoted" {
				tt.opts.Quote = '\''
			}
			got := copyThrough(t, mustCopyPlan(t, tt.opts, tt.cols, nil), []byte(tt.in))
			if string(got) != tt.want {
				t.Fatalf("got  %q\nwant %q", got, tt.want)
			}
			// The same stream split at every byte gives the same rows.
			for cut := 1; cut < len(tt.in); cut++ {
				got := copyThrough(t, mustCopyPlan(t, tt.opts, tt.cols, nil), []byte(tt.in[:cut]), []byte(tt.in[cut:]))
				if string(got) != tt.want {
					t.Fatalf("split at %d: got %q\nwant %q", cut, got, tt.want)
				}
			}
			var msgs [][]byte
			for i := range len(tt.in) {
				msgs = append(msgs, []byte(tt.in[i:i+1]))
			}
			if got := copyThrough(t, mustCopyPlan(t, tt.opts, tt.cols, nil), msgs...); string(got) != tt.want {
				t.Fatalf("byte by byte: got %q\nwant %q", got, tt.want)
			}
		})
	}
}

// TestCopyMessagePerInput: each input message that completes rows gives
// one CopyData message; one that completes none gives nothing.
func TestCopyMessagePerInput(t *testing.T) {
	p := mustCopyPlan(t, CopyOptions{}, textCols(redact), nil)
	out, err := p.AppendCopyData(nil, []byte("a\nb"))
	if err != nil {
		t.Fatal(err)
	}
	if msgs := splitCopyData(t, out); len(msgs) != 1 || string(msgs[0]) != "****\n" {
		t.Fatalf("first message gave %q", msgs)
	}
	if out, err = p.AppendCopyData(nil, []byte("b")); err != nil || len(out) != 0 {
		t.Fatalf("unfinished row gave %q, %v", out, err)
	}
	if err := p.Finish(); !errors.Is(err, ErrMalformed) {
		t.Fatalf("Finish with an unfinished row: %v, want ErrMalformed", err)
	}
	if out, err = p.AppendCopyData(nil, []byte("\nc\n")); err != nil {
		t.Fatal(err)
	}
	if msgs := splitCopyData(t, out); len(msgs) != 1 || string(msgs[0]) != "****\n****\n" {
		t.Fatalf("last message gave %q", msgs)
	}
	if err := p.Finish(); err != nil {
		t.Fatalf("Finish: %v", err)
	}
}

func TestCopyRejects(t *testing.T) {
	tests := []struct {
		name string
		opts CopyOptions
		cols []Column
		in   []string
		want error
	}{
		{"text too few columns", CopyOptions{}, textCols(keep, redact), []string{"a\n"}, ErrMalformed},
		{"text too many columns", CopyOptions{}, textCols(redact, keep), []string{"a\tb\tc\n"}, ErrMalformed},
		{"text too many, last masked", CopyOptions{}, textCols(keep, redact), []string{"a\tb\tc\n"}, ErrMalformed},
		{"text escaped too few", CopyOptions{}, textCols(keep, redact), []string{"a\\\tb\n"}, ErrMalformed},
		{"text keep-only too many", CopyOptions{}, textCols(keep), []string{"a\tb\n"}, ErrMalformed},
		{"text after end marker", CopyOptions{}, textCols(keep), []string{"\\.\n", "a\n"}, ErrMalformed},
		{"text no columns with data", CopyOptions{}, nil, []string{"a\n"}, ErrMalformed},
		{"csv too few columns", CopyOptions{Format: CopyCSV}, textCols(keep, redact), []string{"\"a,b\"\n"}, ErrMalformed},
		{"csv too many columns", CopyOptions{Format: CopyCSV}, textCols(redact), []string{"a,\"b\"\n"}, ErrMalformed},
		{"text row over MaxRow", CopyOptions{MaxRow: 8}, textCols(keep), []string{"0123", "45678"}, ErrTooLarge},
		{"csv open quote over MaxRow", CopyOptions{Format: CopyCSV, MaxRow: 8}, textCols(keep), []string{"\"0123\n", "45678\n"}, ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustCopyPlan(t, tt.opts, tt.cols, nil)
			var err error
			for _, m := range tt.in {
				var out []byte
				if out, err = p.AppendCopyData([]byte("x"), []byte(m)); err != nil {
					if string(out) != "x" {
						t.Fatalf("dst changed to %q on error", out)
					}
					break
				}
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
			// The plan refuses everything after an error.
			if _, again := p.AppendCopyData(nil, []byte("a\n")); again == nil || p.Finish() == nil {
				t.Fatalf("plan accepted data after an error")
			}
		})
	}
}

func TestCopyOptionsRejected(t *testing.T) {
	for name, opts := range map[string]CopyOptions{
		"text letter delimiter":    {Delimiter: 'a'},
		"text backslash delimiter": {Delimiter: '\\'},
		"newline delimiter":        {Format: CopyCSV, Delimiter: '\n'},
		"non-ASCII delimiter":      {Delimiter: 0xe9},
		"delimiter in null":        {Null: strptr("a\tb")},
		"newline in null":          {Null: strptr("a\nb")},
		"csv quote = delimiter":    {Format: CopyCSV, Delimiter: '"'},
		"csv quote in null":        {Format: CopyCSV, Null: strptr(`"`)},
		"csv newline quote":        {Format: CopyCSV, Quote: '\r'},
		"binary header":            {Format: CopyBinary, Header: true},
		"unknown format":           {Format: 9},
		"negative max row":         {MaxRow: -1},
	} {
		if _, err := NewCopyPlan(opts, textCols(keep), nil); err == nil {
			t.Errorf("%s: NewCopyPlan accepted %+v", name, opts)
		}
	}
}

// binaryCopy returns a binary COPY stream: header with extension ext,
// tuples (nil values are NULL) and the trailer.
func binaryCopy(ext []byte, tuples ...[][]byte) []byte {
	b := []byte(binarySignature)
	b = binary.BigEndian.AppendUint32(b, 0)
	b = binary.BigEndian.AppendUint32(b, uint32(len(ext)))
	b = append(b, ext...)
	for _, tup := range tuples {
		b = append(b, dataRow(tup...)...)
	}
	return binary.BigEndian.AppendUint16(b, 0xffff)
}

func TestCopyBinary(t *testing.T) {
	h := mustHasher(t, testKey)
	cols := []Column{
		{TypeOID: pgtype.Int4OID},
		{Rule: partial, TypeOID: pgtype.TextOID},
		{Rule: redact, TypeOID: pgtype.Int4OID},
		{Rule: Rule{Strategy: Hash}, TypeOID: pgtype.UUIDOID},
	}
	id := []byte{0, 0, 0, 1}
	u := bytes.Repeat([]byte{7}, 16)
	hashed := maskValue(t, Column{Rule: Rule{Strategy: Hash}, TypeOID: pgtype.UUIDOID, Format: 1}, h, u)
	for _, ext := range [][]byte{nil, []byte("ext")} {
		in := binaryCopy(ext, [][]byte{id, []byte("secret"), {0, 0, 0, 9}, u}, [][]byte{id, nil, nil, nil})
		want := binaryCopy(ext, [][]byte{id, []byte("**cret"), {0, 0, 0, 0}, hashed}, [][]byte{id, nil, nil, nil})
		if got := copyThrough(t, mustCopyPlan(t, CopyOptions{Format: CopyBinary}, cols, h), in); !bytes.Equal(got, want) {
			t.Fatalf("got  %q\nwant %q", got, want)
		}
		for cut := 1; cut < len(in); cut++ {
			got := copyThrough(t, mustCopyPlan(t, CopyOptions{Format: CopyBinary}, cols, h), in[:cut], in[cut:])
			if !bytes.Equal(got, want) {
				t.Fatalf("split at %d: got %q\nwant %q", cut, got, want)
			}
		}
	}
}

func TestCopyBinaryRejects(t *testing.T) {
	good := binaryCopy(nil, [][]byte{[]byte("a")})
	oids := append([]byte{}, good...)
	oids[12] = 1 // flags bit 16: OIDs
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"signature", append([]byte("PGCOPY\n\xff\r\n\x01"), good[11:]...), "signature"},
		{"oid flag", oids, "flags"},
		{"negative extension", append(append([]byte{}, good[:15]...), 0xff, 0xff, 0xff, 0xff), "extension"},
		{"column count", binaryCopy(nil, [][]byte{[]byte("a"), []byte("b")}), "columns"},
		{"negative length", append(append([]byte{}, good[:19]...), 0, 1, 0xff, 0xff, 0xff, 0xfe), "length"},
		{"data after trailer", append(append([]byte{}, good...), 0, 1), "trailer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustCopyPlan(t, CopyOptions{Format: CopyBinary}, textCols(redact), nil)
			_, err := p.AppendCopyData(nil, tt.in)
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want ErrMalformed about %q", err, tt.want)
			}
		})
	}
	p := mustCopyPlan(t, CopyOptions{Format: CopyBinary}, textCols(redact), nil)
	if _, err := p.AppendCopyData(nil, good[:len(good)-2]); err != nil {
		t.Fatal(err)
	}
	if err := p.Finish(); !errors.Is(err, ErrMalformed) {
		t.Fatalf("Finish without a trailer: %v, want ErrMalformed", err)
	}
}
