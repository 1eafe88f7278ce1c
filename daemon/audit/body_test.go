package audit

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// decodeBody decodes b's members as a JSON object.
func decodeBody(tb testing.TB, b *Body) map[string]any {
	tb.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte("{"+string(b.Bytes())+"}"), &m); err != nil {
		tb.Fatalf("body %s is not valid JSON: %v", b.Bytes(), err)
	}
	return m
}

func TestBodyFields(t *testing.T) {
	ts := time.Date(2026, 3, 4, 5, 6, 7, 890, time.FixedZone("x", 3600))
	tests := []struct {
		name  string
		build func(b *Body)
		key   string
		want  any
	}{
		{"str", func(b *Body) { b.Str("k", "plain") }, "k", "plain"},
		{"str escapes", func(b *Body) { b.Str("k", "a\"b\\c\nd\te\r\x00\x1f</>") }, "k", "a\"b\\c\nd\te\r\x00\x1f</>"},
		{"str unicode", func(b *Body) { b.Str("k", "héllo ✓ \u2028\u2029 😀") }, "k", "héllo ✓ \u2028\u2029 😀"},
		{"str invalid utf8", func(b *Body) { b.Str("k", "a\xffb\xc3") }, "k", "a\ufffdb\ufffd"},
		{"escaped key", func(b *Body) { b.Str("we\"ird", "v") }, "we\"ird", "v"},
		{"int", func(b *Body) { b.Int("k", -42) }, "k", float64(-42)},
		{"uint", func(b *Body) { b.Uint("k", 1<<53) }, "k", float64(1 << 53)},
		{"bool", func(b *Body) { b.Bool("k", true) }, "k", true},
		{"strs", func(b *Body) { b.Strs("k", []string{"a", "b\"c"}) }, "k", []any{"a", "b\"c"}},
		{"strs empty", func(b *Body) { b.Strs("k", nil) }, "k", []any{}},
		{"hex", func(b *Body) { b.Hex("k", []byte{0xde, 0xad, 0x01}) }, "k", "dead01"},
		{"sha256", func(b *Body) { b.SHA256("k", "abc") }, "k", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
		{"raw", func(b *Body) { b.Raw("k", []byte(`{"a":[1,2]}`)) }, "k", map[string]any{"a": []any{float64(1), float64(2)}}},
		{"time utc", func(b *Body) { b.Time("k", ts) }, "k", "2026-03-04T04:06:07.00000089Z"},
		{"duration", func(b *Body) { b.Duration("k", 1500*time.Microsecond) }, "k", float64(1500000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b Body
			b.Reset(TypeStatement)
			tt.build(&b)
			if err := b.Err(); err != nil {
				t.Fatalf("Err() = %v", err)
			}
			m := decodeBody(t, &b)
			if m["type"] != TypeStatement {
				t.Errorf("type = %v, want %q", m["type"], TypeStatement)
			}
			if got := m[tt.key]; !reflect.DeepEqual(got, tt.want) {
				t.Errorf("%s = %#v, want %#v", tt.key, got, tt.want)
			}
		})
	}
}

func TestBodyErrors(t *testing.T) {
	tests := []struct {
		name  string
		build func(b *Body)
		want  error
	}{
		{"reserved seq", func(b *Body) { b.Reset(TypeStatement); b.Int("seq", 1) }, ErrReservedKey},
		{"reserved time", func(b *Body) { b.Reset(TypeStatement); b.Str("time", "x") }, ErrReservedKey},
		{"reserved prev", func(b *Body) { b.Reset(TypeStatement); b.Str("prev", "x") }, ErrReservedKey},
		{"second type", func(b *Body) { b.Reset(TypeStatement); b.Str("type", "x") }, ErrReservedKey},
		{"bad raw", func(b *Body) { b.Reset(TypeStatement); b.Raw("k", []byte(`{"a":`)) }, ErrRawJSON},
		{"empty", func(b *Body) {}, ErrEmptyBody},
		{"cut fields with a reserved key", func(b *Body) {
			var src Body
			src.Reset(TypeStatement)
			m := src.Mark()
			src.Str("prev", "x")
			b.Reset(TypeStatement)
			b.Fields(src.Cut(m))
		}, ErrReservedKey},
	}
	dir := t.TempDir()
	l := mustOpen(t, Config{Path: dir + "/a.log"})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b Body
			tt.build(&b)
			if err := l.Write(b); !errors.Is(err, tt.want) {
				t.Errorf("Write = %v, want %v", err, tt.want)
			}
		})
	}
	// Reset clears the error.
	var b Body
	b.Reset(TypeStatement)
	b.Int("seq", 1)
	b.Reset(TypeStatement)
	if err := l.Write(b); err != nil {
		t.Errorf("Write after Reset = %v", err)
	}
}

// TestBodyCut checks that members cut from one Body append to another as
// if encoded there, and that the cut is a copy.
func TestBodyCut(t *testing.T) {
	var src, got, want Body
	src.Reset(TypeStatement)
	src.Str("before", "x")
	m := src.Mark()
	src.Str("command", "SELECT").Strs("kinds", []string{"select"}).Uint("n", 3)
	f := src.Cut(m)
	src.Reset(TypeAlert) // reuses the buffer the fields were cut from
	src.Str("command", "DROP")

	got.Reset(TypeStatement)
	got.Uint("stmt", 1).Fields(f).Bool("cached", true)
	want.Reset(TypeStatement)
	want.Uint("stmt", 1).Str("command", "SELECT").Strs("kinds", []string{"select"}).Uint("n", 3).Bool("cached", true)
	if string(got.Bytes()) != string(want.Bytes()) {
		t.Errorf("body with cut fields = %s, want %s", got.Bytes(), want.Bytes())
	}
	decodeBody(t, &got)
}

func TestBodyStrMax(t *testing.T) {
	tests := []struct {
		in       string
		max      int
		want     string
		truncate bool
	}{
		{"hello", 10, "hello", false},
		{"hello", 5, "hello", false},
		{"hello", 3, "hel", true},
		{"héllo", 2, "h", true}, // é is 2 bytes: never split a rune
		{"héllo", 3, "hé", true},
		{"😀x", 3, "", true},
		{"abc", 0, "", true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%d", tt.in, tt.max), func(t *testing.T) {
			var b Body
			b.Reset(TypeStatement)
			got := b.StrMax("s", tt.in, tt.max)
			if got != tt.truncate {
				t.Errorf("truncated = %v, want %v", got, tt.truncate)
			}
			if s := decodeBody(t, &b)["s"]; s != tt.want {
				t.Errorf("value = %q, want %q", s, tt.want)
			}
		})
	}
}

func TestBodyNoAllocs(t *testing.T) {
	var b Body
	statementBody(&b, 1, 1) // grow the buffer
	if n := testing.AllocsPerRun(100, func() { statementBody(&b, 1, 2) }); n != 0 {
		t.Errorf("building a statement body allocates %v times, want 0", n)
	}
}

// FuzzBodyString checks the JSON string encoder against encoding/json.
func FuzzBodyString(f *testing.F) {
	for _, s := range []string{"", "a", "\"\\", "\x00\x7f\x80\xff", "\u2028", "é😀", strings.Repeat("\n", 3), "\xed\xa0\x80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var b Body
		b.Reset(TypeStatement)
		b.Str(s, s)
		var got map[string]string
		if err := json.Unmarshal([]byte("{"+string(b.Bytes())+"}"), &got); err != nil {
			t.Fatalf("invalid JSON for %q: %v", s, err)
		}
		ref, _ := json.Marshal(s)
		var want string
		if err := json.Unmarshal(ref, &want); err != nil {
			t.Fatal(err)
		}
		if got[want] != want {
			t.Errorf("round trip of %q = %q, want %q", s, got[want], want)
		}
		if strings.ContainsAny(string(b.Bytes()), "\n\r") {
			t.Errorf("encoded %q contains a raw newline", s)
		}
	})
}

func BenchmarkBody(b *testing.B) {
	var body Body
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		statementBody(&body, 1, i)
	}
}

func ExampleBody() {
	var b Body
	b.Reset(TypeStatement)
	b.Str("user", "alice").Strs("tables", []string{"public.orders"}).Bool("masked", false)
	b.StrMax("statement", "SELECT \"total\"\nFROM orders", 14)
	fmt.Println(string(b.Bytes()))
	// Output: "type":"statement","user":"alice","tables":["public.orders"],"masked":false,"statement":"SELECT \"total\""
}
