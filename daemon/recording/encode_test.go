package recording

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestAppendValue(t *testing.T) {
	tests := []struct {
		name   string
		v      []byte
		null   bool
		format int16
		max    int
		want   string
		back   Value
	}{
		{"text", []byte("héllo \"x\"\n"), false, 0, -1, `"héllo \"x\"\n"`, Value{Data: []byte("héllo \"x\"\n")}},
		{"empty text is not null", []byte{}, false, 0, -1, `""`, Value{Data: []byte{}}},
		{"null", nil, true, 0, -1, `null`, Value{Null: true}},
		{"null in binary", nil, true, 1, -1, `null`, Value{Null: true}},
		{"binary", []byte{0, 0, 0, 5}, false, 1, -1, `{"base64":"AAAABQ=="}`, Value{Binary: true, Data: []byte{0, 0, 0, 5}}},
		{"binary that looks like text", []byte("ABCD"), false, 1, -1, `{"base64":"QUJDRA=="}`, Value{Binary: true, Data: []byte("ABCD")}},
		{"text not UTF-8", []byte{'a', 0xff, 'b'}, false, 0, -1, `{"base64":"Yf9i","format":"text"}`, Value{Data: []byte{'a', 0xff, 'b'}}},
		{"text cut", []byte("abcdef"), false, 0, 4, `{"text":"abcd","len":6}`, Value{Data: []byte("abcd"), Len: 6}},
		{"text cut on a rune boundary", []byte("abcé"), false, 0, 4, `{"text":"abc","len":5}`, Value{Data: []byte("abc"), Len: 5}},
		{"binary cut", []byte{1, 2, 3, 4, 5}, false, 1, 2, `{"base64":"AQI=","len":5}`, Value{Binary: true, Data: []byte{1, 2}, Len: 5}},
		{"control characters and separators", []byte("a\x00b\u2028"), false, 0, -1, `"a\u0000b\u2028"`, Value{Data: []byte("a\x00b\u2028")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(appendValue(nil, tt.v, tt.null, tt.format, tt.max))
			if got != tt.want {
				t.Fatalf("got %s, want %s", got, tt.want)
			}
			if !json.Valid([]byte(got)) {
				t.Fatalf("%s is not valid JSON", got)
			}
			var v Value
			if err := json.Unmarshal([]byte(got), &v); err != nil {
				t.Fatal(err)
			}
			if v.Null != tt.back.Null || v.Binary != tt.back.Binary || string(v.Data) != string(tt.back.Data) || v.Len != tt.back.Len {
				t.Fatalf("decoded %+v, want %+v", v, tt.back)
			}
			again, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			if string(again) != tt.want {
				t.Fatalf("re-encoded %s, want %s", again, tt.want)
			}
		})
	}
}

func TestValueString(t *testing.T) {
	tests := []struct {
		v    Value
		want string
	}{
		{Value{Null: true}, "NULL"},
		{Value{Data: []byte("x")}, "x"},
		{Value{Binary: true, Data: []byte{0xde, 0xad}}, `\xdead`},
		{Value{Data: []byte("abc"), Len: 10}, "abc… (10 bytes)"},
	}
	for _, tt := range tests {
		if got := tt.v.String(); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
}

func TestAppendStringEscapes(t *testing.T) {
	in := "q\"b\\c\r\t\x01\xffz"
	got := string(appendString(nil, in))
	var back string
	if err := json.Unmarshal([]byte(got), &back); err != nil {
		t.Fatalf("%s: %v", got, err)
	}
	if want := strings.ToValidUTF8(in, "\ufffd"); back != want {
		t.Fatalf("got %q, want %q", back, want)
	}
}
