package jsonstr

import (
	"encoding/json"
	"testing"
)

func TestAppend(t *testing.T) {
	for _, s := range []string{"", "plain", `q"uo\te`, "line\nbreak\ttab\r", "\x01\x1f", "é漢字", "\u2028\u2029", "bad\xffbyte"} {
		got := Append(nil, s)
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("%q encoded to invalid JSON %s: %v", s, got, err)
		}
		want := []rune(s)
		_ = want
		if s != "bad\xffbyte" && back != s {
			t.Fatalf("%q round-tripped to %q", s, back)
		}
	}
	if _, ok := AppendValid(nil, "bad\xffbyte"); ok {
		t.Fatal("AppendValid accepted invalid UTF-8")
	}
	if b, ok := AppendValid(nil, "fine"); !ok || string(b) != `"fine"` {
		t.Fatalf("AppendValid: %s %v", b, ok)
	}
	if n := testing.AllocsPerRun(100, func() { _ = Append(make([]byte, 0, 64), `a"b`) }); n > 1 {
		t.Fatalf("allocs %v", n)
	}
}

func FuzzAppend(f *testing.F) {
	f.Add("x\"\\\n\u2028\xff")
	f.Fuzz(func(t *testing.T, s string) {
		var back string
		if err := json.Unmarshal(Append(nil, s), &back); err != nil {
			t.Fatalf("invalid JSON for %q: %v", s, err)
		}
	})
}
