package mask

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
)

// sample is one value of a type in both formats.
type sample struct {
	name string
	oid  uint32
	text string
	// bin is the binary form; when nil, pgtype encodes val.
	bin []byte
	val any
}

func samples(tb testing.TB) []sample {
	tb.Helper()
	var num pgtype.Numeric
	if err := num.Scan("12345.678901"); err != nil {
		tb.Fatal(err)
	}
	ts := time.Date(2024, 1, 2, 3, 4, 5, 123456000, time.UTC)
	timetz := binary.BigEndian.AppendUint64(nil, uint64((3*3600+4*60+5)*1e6))
	timetz = binary.BigEndian.AppendUint32(timetz, uint32(0xffffffff-7200+1)) // zone -7200 s: +02
	s := []sample{
		{name: "bool", oid: pgtype.BoolOID, text: "t", val: true},
		{name: "bytea", oid: pgtype.ByteaOID, text: `\x00ff10`, val: []byte{0, 0xff, 0x10}},
		{name: "char", oid: pgtype.QCharOID, text: "x", bin: []byte("x")},
		{name: "name", oid: pgtype.NameOID, text: "relname", bin: []byte("relname")},
		{name: "int8", oid: pgtype.Int8OID, text: "1234567890123", val: int64(1234567890123)},
		{name: "int2", oid: pgtype.Int2OID, text: "-12", val: int16(-12)},
		{name: "int4", oid: pgtype.Int4OID, text: "123456", val: int32(123456)},
		{name: "text", oid: pgtype.TextOID, text: "hello world", bin: []byte("hello world")},
		{name: "oid", oid: pgtype.OIDOID, text: "12345", val: uint32(12345)},
		{name: "json", oid: pgtype.JSONOID, text: `{"a": 1}`, bin: []byte(`{"a": 1}`)},
		{name: "xml", oid: pgtype.XMLOID, text: `<a/>`, bin: []byte(`<a/>`)},
		{name: "point", oid: pgtype.PointOID, text: `(1,2)`, val: pgtype.Point{P: pgtype.Vec2{X: 1, Y: 2}, Valid: true}},
		{name: "cidr", oid: pgtype.CIDROID, text: "192.0.2.0/24", val: netip.MustParsePrefix("192.0.2.0/24")},
		{name: "float4", oid: pgtype.Float4OID, text: "1.5", val: float32(1.5)},
		{name: "float8", oid: pgtype.Float8OID, text: "-Infinity", val: -2.25},
		{name: "unknown", oid: pgtype.UnknownOID, text: "literal", bin: []byte("literal")},
		{name: "macaddr8", oid: pgtype.Macaddr8OID, text: "08:00:2b:01:02:03:04:05", bin: []byte{8, 0, 0x2b, 1, 2, 3, 4, 5}},
		{name: "money", oid: moneyOID, text: "$1.00", bin: binary.BigEndian.AppendUint64(nil, 100)},
		{name: "macaddr", oid: pgtype.MacaddrOID, text: "08:00:2b:01:02:03", bin: []byte{8, 0, 0x2b, 1, 2, 3}},
		{name: "inet", oid: pgtype.InetOID, text: "2001:db8::1/64", val: netip.MustParsePrefix("2001:db8::1/64")},
		{name: "bpchar", oid: pgtype.BPCharOID, text: "ab  ", bin: []byte("ab  ")},
		{name: "varchar", oid: pgtype.VarcharOID, text: "ünïcødé ✓", bin: []byte("ünïcødé ✓")},
		{name: "date", oid: pgtype.DateOID, text: "2024-01-02", val: ts},
		{name: "time", oid: pgtype.TimeOID, text: "03:04:05", val: pgtype.Time{Microseconds: 11045e6, Valid: true}},
		{name: "timetz", oid: pgtype.TimetzOID, text: "03:04:05+02", bin: timetz},
		{name: "timestamp", oid: pgtype.TimestampOID, text: "2024-01-02 03:04:05.123456", val: ts},
		{name: "timestamptz", oid: pgtype.TimestamptzOID, text: "2024-01-02 03:04:05.123456+00", val: ts},
		{name: "interval", oid: pgtype.IntervalOID, text: "1 day 02:03:04", val: pgtype.Interval{Days: 1, Microseconds: 7384e6, Valid: true}},
		{name: "numeric", oid: pgtype.NumericOID, text: "12345.678901", val: num},
		{name: "uuid", oid: pgtype.UUIDOID, text: "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", bin: []byte{0xa0, 0xee, 0xbc, 0x99, 0x9c, 0x0b, 0x4e, 0xf8, 0xbb, 0x6d, 0x6b, 0xb9, 0xbd, 0x38, 0x0a, 0x11}},
		{name: "jsonb", oid: pgtype.JSONBOID, text: `{"email": "ada@example.com"}`, bin: []byte("\x01{\"email\": \"ada@example.com\"}")},
		{name: "int4[]", oid: pgtype.Int4ArrayOID, text: "{1,2,3}", val: []int32{1, 2, 3}},
		{name: "text[]", oid: pgtype.TextArrayOID, text: `{x,"y z"}`, val: []string{"x", "y z"}},
		{name: "jsonb[]", oid: pgtype.JSONBArrayOID, text: `{"{}"}`, val: []string{"{}"}},
		{name: "uuid[]", oid: pgtype.UUIDArrayOID, text: `{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}`, val: []pgtype.UUID{{Bytes: [16]byte{1}, Valid: true}}},
		{name: "timestamptz[]", oid: pgtype.TimestamptzArrayOID, text: `{"2024-01-02 03:04:05+00"}`, val: []time.Time{ts}},
	}
	m := pgtype.NewMap()
	for i := range s {
		if s[i].bin != nil {
			continue
		}
		b, err := m.Encode(s[i].oid, pgtype.BinaryFormatCode, s[i].val, nil)
		if err != nil {
			tb.Fatalf("encode sample %s: %v", s[i].name, err)
		}
		s[i].bin = b
	}
	return s
}

func (s sample) in(format int16) []byte {
	if format == pgtype.BinaryFormatCode {
		return s.bin
	}
	return []byte(s.text)
}

var maskStrategies = []Strategy{Redact, Null, Partial, Hash, Email}

// TestEveryStrategyEveryType masks a sample of each type with each strategy
// in both formats: the result is NULL exactly when it must be, and is
// otherwise a value pgtype reads as the column's type.
func TestEveryStrategyEveryType(t *testing.T) {
	h := mustHasher(t, testKey)
	m := pgtype.NewMap()
	for _, s := range samples(t) {
		for _, format := range []int16{0, 1} {
			for _, st := range append([]Strategy{Keep}, maskStrategies...) {
				t.Run(fmt.Sprintf("%s/%d/%s", s.name, format, st), func(t *testing.T) {
					c := Column{Rule: Rule{Strategy: st}, TypeOID: s.oid, Format: format}
					in := s.in(format)
					if got := maskValue(t, c, h, nil); got != nil {
						t.Fatalf("NULL masked to %q, want NULL", got)
					}
					got := maskValue(t, c, h, in)
					switch {
					case st == Keep:
						if !bytes.Equal(got, in) {
							t.Fatalf("kept %q as %q", in, got)
						}
						return
					case st == Null || !Redactable(s.oid):
						if got != nil {
							t.Fatalf("got %q, want NULL", got)
						}
						return
					case got == nil:
						t.Fatalf("got NULL, want a value")
					case bytes.Equal(got, in):
						t.Fatalf("value %q not masked", in)
					}
					if _, ok := m.TypeForOID(s.oid); ok {
						decode(t, m, s.oid, format, got)
					}
				})
			}
		}
	}
}

func TestMaskedValues(t *testing.T) {
	h := mustHasher(t, testKey)
	mac := func(s string) string { return hexHMAC(testKey, []byte(s)) }
	text := func(r Rule) Column { return Column{Rule: r, TypeOID: pgtype.TextOID} }
	tests := []struct {
		name string
		col  Column
		in   string
		want string
	}{
		{"redact text", text(Rule{Strategy: Redact}), "secret", "****"},
		{"redact varchar(2)", Column{Rule: Rule{Strategy: Redact}, TypeOID: pgtype.VarcharOID, TypeMod: 6}, "secret", "**"},
		{"redact char(4)", Column{Rule: Rule{Strategy: Redact}, TypeOID: pgtype.BPCharOID, TypeMod: 8}, "abcd", "****"},
		{"redact \"char\"", Column{Rule: Rule{Strategy: Redact}, TypeOID: pgtype.QCharOID}, "x", "*"},
		{"redact int4 text", Column{Rule: Rule{Strategy: Redact}, TypeOID: pgtype.Int4OID}, "42", "0"},
		{"redact int4 binary", Column{Rule: Rule{Strategy: Redact}, TypeOID: pgtype.Int4OID, Format: 1}, "\x00\x00\x00\x2a", "\x00\x00\x00\x00"},
		{"redact bool", Column{Rule: Rule{Strategy: Redact}, TypeOID: pgtype.BoolOID}, "t", "f"},
		{"redact date", Column{Rule: Rule{Strategy: Redact}, TypeOID: pgtype.DateOID}, "2024-01-02", "1970-01-01"},
		{"redact timestamptz", Column{Rule: Rule{Strategy: Redact}, TypeOID: pgtype.TimestamptzOID}, "2024-01-02 03:04:05+00", "1970-01-01 00:00:00+00"},
		{"redact uuid", Column{Rule: Rule{Strategy: Redact}, TypeOID: pgtype.UUIDOID}, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "00000000-0000-0000-0000-000000000000"},
		{"redact jsonb", Column{Rule: Rule{Strategy: Redact}, TypeOID: pgtype.JSONBOID}, `{"a":1}`, `"****"`},
		{"redact jsonb binary", Column{Rule: Rule{Strategy: Redact}, TypeOID: pgtype.JSONBOID, Format: 1}, "\x01{}", "\x01\"****\""},
		{"redact bytea", Column{Rule: Rule{Strategy: Redact}, TypeOID: pgtype.ByteaOID}, `\x00ff`, `\x`},
		{"redact array", Column{Rule: Rule{Strategy: Redact}, TypeOID: pgtype.TextArrayOID}, `{a,b}`, `{}`},
		{"redact inet", Column{Rule: Rule{Strategy: Redact}, TypeOID: pgtype.InetOID}, `192.0.2.1`, `0.0.0.0`},
		{"partial card", text(Rule{Strategy: Partial}), "4111111111111111", "************1111"},
		{"partial short", text(Rule{Strategy: Partial}), "abcd", "****"},
		{"partial empty", text(Rule{Strategy: Partial}), "", ""},
		{"partial keep 2 fill #", text(Rule{Strategy: Partial, KeepLast: 2, Fill: '#'}), "ünïcødé ✓", "####### ✓"},
		{"partial multibyte fill", text(Rule{Strategy: Partial, KeepLast: 1, Fill: '•'}), "abc", "••c"},
		{"partial char(8) trims", Column{Rule: Rule{Strategy: Partial, KeepLast: 2}, TypeOID: pgtype.BPCharOID, TypeMod: 12}, "abcde   ", "***de"},
		{"partial int redacts", Column{Rule: Rule{Strategy: Partial}, TypeOID: pgtype.Int8OID}, "4111111111111111", "0"},
		{"email", text(Rule{Strategy: Email}), "ada@example.com", "****@example.com"},
		{"email last @", text(Rule{Strategy: Email}), `"a@b"@example.com`, "****@example.com"},
		{"email fill", text(Rule{Strategy: Email, Fill: 'x'}), "a@b.org", "xxxx@b.org"},
		{"email not an address", text(Rule{Strategy: Email}), "hello", "****"},
		{"email no domain", text(Rule{Strategy: Email}), "hello@", "****"},
		{"email no local part", text(Rule{Strategy: Email}), "@example.com", "****"},
		{"email in a sentence", text(Rule{Strategy: Email}), "write to ada@example.com today", "****"},
		{"email varchar(10) cut", Column{Rule: Rule{Strategy: Email}, TypeOID: pgtype.VarcharOID, TypeMod: 14}, "ada@example.com", "****@examp"},
		{"email int redacts", Column{Rule: Rule{Strategy: Email}, TypeOID: pgtype.Int4OID}, "1", "0"},
		{"hash text", text(Rule{Strategy: Hash}), "ada", mac("ada")},
		{"hash text 16", text(Rule{Strategy: Hash, HashLength: 16}), "ada", mac("ada")[:16]},
		{"hash char(4) trims", Column{Rule: Rule{Strategy: Hash}, TypeOID: pgtype.BPCharOID}, "ada ", mac("ada")},
		{"hash char(4) cut", Column{Rule: Rule{Strategy: Hash}, TypeOID: pgtype.BPCharOID, TypeMod: 8}, "ada ", mac("ada")[:4]},
		{"hash name", Column{Rule: Rule{Strategy: Hash}, TypeOID: pgtype.NameOID}, "ada", mac("ada")[:63]},
		{"hash json", Column{Rule: Rule{Strategy: Hash}, TypeOID: pgtype.JSONOID}, `{"a":1}`, `"` + mac(`{"a":1}`) + `"`},
		{"hash jsonb binary", Column{Rule: Rule{Strategy: Hash}, TypeOID: pgtype.JSONBOID, Format: 1}, "\x01{}", "\x01\"" + mac(`{}`) + `"`},
		{"hash jsonb bad version", Column{Rule: Rule{Strategy: Hash}, TypeOID: pgtype.JSONBOID, Format: 1}, "\x02{}", "\x01\"****\""},
		{"hash bytea hex", Column{Rule: Rule{Strategy: Hash}, TypeOID: pgtype.ByteaOID}, `\x00ff10`, `\x` + hexHMAC(testKey, []byte{0, 0xff, 0x10})},
		{"hash bytea escape", Column{Rule: Rule{Strategy: Hash}, TypeOID: pgtype.ByteaOID}, `\000\377\020`, `\x` + hexHMAC(testKey, []byte{0, 0xff, 0x10})},
		{"hash bytea bad", Column{Rule: Rule{Strategy: Hash}, TypeOID: pgtype.ByteaOID}, `\xzz`, `\x`},
		{"hash numeric redacts", Column{Rule: Rule{Strategy: Hash}, TypeOID: pgtype.NumericOID}, "1.5", "0"},
		{"hash uuid", Column{Rule: Rule{Strategy: Hash}, TypeOID: pgtype.UUIDOID}, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", uuidText(mac("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")[:32])},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := maskValue(t, tt.col, h, []byte(tt.in))
			if string(got) != tt.want || got == nil {
				t.Fatalf("masked %q to %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestHashBase64(t *testing.T) {
	h := mustHasher(t, testKey)
	full := maskValue(t, Column{Rule: Rule{Strategy: Hash, HashEncoding: HashBase64}, TypeOID: pgtype.TextOID}, h, []byte("ada"))
	short := maskValue(t, Column{Rule: Rule{Strategy: Hash, HashEncoding: HashBase64, HashLength: 10}, TypeOID: pgtype.TextOID}, h, []byte("ada"))
	if len(full) != 43 || strings.ContainsAny(string(full), "+/=") {
		t.Fatalf("base64 hash %q: want 43 URL-safe characters", full)
	}
	if string(short) != string(full[:10]) {
		t.Fatalf("10-character hash %q, want %q", short, full[:10])
	}
}

// TestHashAgreesAcrossFormats: the same value hashes the same in text and
// binary format, so masked columns join whatever format the client asked.
func TestHashAgreesAcrossFormats(t *testing.T) {
	h := mustHasher(t, testKey)
	m := pgtype.NewMap()
	for _, s := range samples(t) {
		switch lookupType(s.oid).kind {
		case kindText, kindBPChar, kindJSON, kindJSONB, kindUUID, kindBytea:
		default:
			continue
		}
		t.Run(s.name, func(t *testing.T) {
			var vals [2]any
			for format := range int16(2) {
				c := Column{Rule: Rule{Strategy: Hash}, TypeOID: s.oid, Format: format}
				vals[format] = decode(t, m, s.oid, format, maskValue(t, c, h, s.in(format)))
			}
			if fmt.Sprint(vals[0]) != fmt.Sprint(vals[1]) {
				t.Fatalf("text format hashes to %v, binary to %v", vals[0], vals[1])
			}
		})
	}
}

func TestHashKeyed(t *testing.T) {
	c := Column{Rule: Rule{Strategy: Hash}, TypeOID: pgtype.TextOID}
	a := maskValue(t, c, mustHasher(t, testKey), []byte("ada"))
	again := maskValue(t, c, mustHasher(t, testKey), []byte("ada"))
	other := maskValue(t, c, mustHasher(t, []byte("another key of 32 bytes.........")), []byte("ada"))
	if string(a) != string(again) {
		t.Fatalf("same key and value hash to %q and %q", a, again)
	}
	if string(a) == string(other) {
		t.Fatalf("two keys hash to the same %q", a)
	}
}

func uuidText(h string) string {
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
