package audit

import (
	"context"
	"strings"
	"testing"
)

func TestParseLine(t *testing.T) {
	const h = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	const head = `{"seq":3,"time":"2026-01-02T03:04:05.5Z","prev":"` + h + `"`
	tests := []struct {
		name, line string
		ok         bool
	}{
		{"minimal", head + `,"type":"statement"}`, true},
		{"extra members", head + `,"type":"statement","x":{"a":[1,null]}}`, true},
		{"checkpoint", head + `,"type":"checkpoint","chain":"` + h + `","covered_seq":2,"final":true,"key_id":"ab","sig":"AA=="}`, true},
		{"empty", ``, false},
		{"array", `[1]`, false},
		{"missing type", head + `}`, false},
		{"empty type", head + `,"type":""}`, false},
		{"null seq", `{"seq":null,"time":"2026-01-02T03:04:05Z","prev":"` + h + `","type":"a"}`, false},
		{"negative seq", `{"seq":-1,"time":"2026-01-02T03:04:05Z","prev":"` + h + `","type":"a"}`, false},
		{"fractional seq", `{"seq":1.5,"time":"2026-01-02T03:04:05Z","prev":"` + h + `","type":"a"}`, false},
		{"string seq", `{"seq":"1","time":"2026-01-02T03:04:05Z","prev":"` + h + `","type":"a"}`, false},
		{"bad time", `{"seq":1,"time":"yesterday","prev":"` + h + `","type":"a"}`, false},
		{"uppercase prev", `{"seq":1,"time":"2026-01-02T03:04:05Z","prev":"` + strings.ToUpper(h) + `","type":"a"}`, false},
		{"short prev", `{"seq":1,"time":"2026-01-02T03:04:05Z","prev":"abc","type":"a"}`, false},
		{"duplicate key", head + `,"type":"a","type":"b"}`, false},
		{"duplicate seq", head + `,"seq":4,"type":"a"}`, false},
		{"trailing data", head + `,"type":"a"} {}`, false},
		{"truncated", head + `,"type":"a"`, false},
		{"bad final type", head + `,"type":"checkpoint","final":"yes"}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseLine([]byte(tt.line))
			if (err == nil) != tt.ok {
				t.Errorf("parseLine(%s) error = %v, want ok=%v", tt.line, err, tt.ok)
			}
		})
	}
}

// FuzzParseLine feeds the Verify line parser arbitrary lines, seeded with
// real records of every kind the Log writes.
func FuzzParseLine(f *testing.F) {
	_, priv := testKey(f)
	path := tempPath(f)
	l, err := Open(context.Background(), Config{Path: path, SigningKey: priv, Logger: quietLogger()})
	if err != nil {
		f.Fatal(err)
	}
	var b Body
	statementBody(&b, 1, 1)
	l.Write(b)
	b.Reset(TypeStatementResult)
	b.Str("tag", "INSERT 0 1").Raw("raw", []byte(`{"a":"\u00e9"}`))
	l.Write(b)
	l.Close()
	for _, line := range readLines(f, path) {
		f.Add([]byte(line))
	}
	f.Add([]byte(`{"seq":1e3}`))
	f.Add([]byte(`{"seq":18446744073709551616}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		r, err := parseLine(line)
		if err != nil {
			return
		}
		if !isHash(r.Prev) || r.Type == "" || r.Time == "" {
			t.Errorf("parseLine accepted %q as %+v", line, r)
		}
		if strings.ContainsRune(r.Time, '\n') {
			t.Errorf("time with a newline accepted: %q", r.Time)
		}
	})
}
