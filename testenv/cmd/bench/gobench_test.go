package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const goTestOut = `goos: linux
goarch: amd64
pkg: github.com/interlock-dev/interlock/daemon/proxy
cpu: AMD EPYC
BenchmarkStatementHit-2   	  512340	      2301 ns/op	       0 B/op	       0 allocs/op
BenchmarkStatementHit-2   	  498001	      2405 ns/op	       0 B/op	       0 allocs/op
BenchmarkStatementHit-2   	  520000	      2250 ns/op	       0 B/op	       0 allocs/op
PASS
ok  	github.com/interlock-dev/interlock/daemon/proxy	6.123s
goos: linux
goarch: amd64
pkg: github.com/interlock-dev/interlock/policy/analysis
cpu: AMD EPYC
BenchmarkAnalyzePgbenchSelect-2   	   41234	     27012 ns/op	    1904 B/op	      41 allocs/op
BenchmarkAnalyzePgbenchSelect-2   	   40001	     28100 ns/op	    1904 B/op	      41 allocs/op
PASS
ok  	github.com/interlock-dev/interlock/policy/analysis	3.001s
goos: linux
goarch: amd64
pkg: github.com/interlock-dev/interlock/daemon/audit
cpu: AMD EPYC
BenchmarkBody/small-2     	 1000000	      1012 ns/op	  512.50 MB/s	      16 B/op	       1 allocs/op
BenchmarkWrite-2
    log_test.go:570: some log output
BenchmarkWrite-2          	  300000	      3900 ns/op	     120 B/op	       2 allocs/op
--- FAIL: BenchmarkVerify-2
    verify_test.go:520: boom
FAIL
exit status 1
FAIL	github.com/interlock-dev/interlock/daemon/audit	2.000s
?   	github.com/interlock-dev/interlock/daemon/pgwire	[no test files]
`

func TestParseGoBench(t *testing.T) {
	got, err := parseGoBench(strings.NewReader(goTestOut), "github.com/interlock-dev/interlock")
	if err != nil {
		t.Fatal(err)
	}
	type want struct {
		pkg, name string
		units     []string
		ns        []float64
	}
	wants := []want{
		{"daemon/proxy", "BenchmarkStatementHit", []string{"ns/op", "B/op", "allocs/op"}, []float64{2301, 2405, 2250}},
		{"policy/analysis", "BenchmarkAnalyzePgbenchSelect", []string{"ns/op", "B/op", "allocs/op"}, []float64{27012, 28100}},
		{"daemon/audit", "BenchmarkBody/small", []string{"ns/op", "MB/s", "B/op", "allocs/op"}, []float64{1012}},
		{"daemon/audit", "BenchmarkWrite", []string{"ns/op", "B/op", "allocs/op"}, []float64{3900}},
	}
	if len(got) != len(wants) {
		t.Fatalf("got %d benchmarks %+v, want %d", len(got), got, len(wants))
	}
	for i, w := range wants {
		g := got[i]
		if g.Pkg != w.pkg || g.Name != w.name {
			t.Errorf("benchmark %d: got %s %s, want %s %s", i, g.Pkg, g.Name, w.pkg, w.name)
		}
		if !slices.Equal(g.Units, w.units) {
			t.Errorf("%s units: got %v, want %v", w.name, g.Units, w.units)
		}
		if !slices.Equal(g.Values["ns/op"], w.ns) {
			t.Errorf("%s ns/op: got %v, want %v", w.name, g.Values["ns/op"], w.ns)
		}
	}
	if mb := got[2].Values["MB/s"]; !slices.Equal(mb, []float64{512.5}) {
		t.Errorf("BenchmarkBody/small MB/s: got %v, want [512.5]", mb)
	}
	if a := got[1].Values["allocs/op"]; !slices.Equal(a, []float64{41, 41}) {
		t.Errorf("allocs/op: got %v, want [41 41]", a)
	}
}

func TestParseGoFailures(t *testing.T) {
	out := goTestOut + "FAIL\tgithub.com/interlock-dev/interlock/policy [build failed]\nFAIL\n"
	got := parseGoFailures(out, "github.com/interlock-dev/interlock")
	if want := []string{"daemon/audit", "policy (build failed)"}; !slices.Equal(got, want) {
		t.Errorf("parseGoFailures = %q, want %q", got, want)
	}
}

func TestParseBenchLine(t *testing.T) {
	tests := []struct {
		line string
		name string
		ok   bool
	}{
		{"BenchmarkX-2 \t 100\t 5 ns/op", "BenchmarkX", true},
		{"BenchmarkX 100 5 ns/op", "BenchmarkX", true},
		{"BenchmarkX/case-a-16 100 5 ns/op 1 allocs/op", "BenchmarkX/case-a", true},
		{"BenchmarkX-2", "", false},
		{"BenchmarkX-2 100 5", "", false},
		{"BenchmarkX-2 many 5 ns/op", "", false},
		{"BenchmarkX-2 100 five ns/op", "", false},
		{"--- FAIL: BenchmarkX-2", "", false},
		{"ok  	pkg	1.0s", "", false},
	}
	for _, tt := range tests {
		name, _, ok := parseBenchLine(tt.line)
		if ok != tt.ok || name != tt.name {
			t.Errorf("parseBenchLine(%q) = %q, %v; want %q, %v", tt.line, name, ok, tt.name, tt.ok)
		}
	}
}

func TestModulePath(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("// comment\nmodule example.com/x\n\ngo 1.26\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := modulePath(dir); got != "example.com/x" {
		t.Errorf("modulePath = %q, want example.com/x", got)
	}
	if got := modulePath(filepath.Join(dir, "none")); got != "" {
		t.Errorf("modulePath of a dir without go.mod = %q, want empty", got)
	}
}
