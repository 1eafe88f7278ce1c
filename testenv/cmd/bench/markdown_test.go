package main

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestMarkdown(t *testing.T) {
	rep := report{
		Meta: reportMeta{Started: time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC), CPUs: 2, Rounds: 3, Duration: 10 * time.Second},
		Workloads: []*workloadResult{fakeWorkload("select-simple", map[string][]float64{
			targetDirect:     {30000, 36000, 35000},
			targetPgbouncer:  {18000, 18500, 17000},
			targetInterlockd: {14000, -1, 13000},
		})},
		GoSkipped: true,
	}
	md := rep.markdown()
	for _, want := range []string{
		"## select-simple: `pgbench -S -M simple -c4 -j2`",
		"| direct | 35,000 (30,000–36,000) |",
		"| interlockd | 13,500 (13,000–14,000) |",
		"| interlockd/pgbouncer | 0.78 | – | 0.76 | **0.77** |",
		"| pgbouncer/direct | 0.60 | 0.51 | 0.49 | **0.51** |",
		"**Noisy:** direct TPS spread across rounds is 17%",
		"- round 2, interlockd failed: pgbench: connection refused …",
		"| interlockd ≥ 0.75× pgbouncer TPS, select-simple | 0.77× (rounds 0.76–0.78) | PASS |",
		"Skipped (-skip-go).",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}

func TestMarkdownGo(t *testing.T) {
	rep := report{GoCount: 5, GoBenches: []goBench{
		{Pkg: refBenchPkg, Name: refBenchName, Units: []string{"ns/op", "B/op", "allocs/op"},
			Values: map[string][]float64{"ns/op": {25000, 27000, 26000}, "B/op": {1900}, "allocs/op": {41}}},
		{Pkg: hotBenchPkg, Name: hotBenchName, Units: []string{"ns/op", "B/op", "allocs/op", "MB/s"},
			Values: map[string][]float64{"ns/op": {2600}, "B/op": {0}, "allocs/op": {0}, "MB/s": {12.5}}},
		{Pkg: "policy/sqlkey", Name: "BenchmarkAppend/pgbench", Units: []string{"ns/op"}, Values: map[string][]float64{"ns/op": {88.84}}},
	}, GoErr: errors.New("go test -bench: exit status 1")}
	md := rep.markdown()
	for _, want := range []string{
		"| policy/analysis | BenchmarkAnalyzePgbenchSelect | 3 | 26,000 | 1,900 | 41 | 1.000 | – |",
		"| daemon/proxy | BenchmarkStatementHit | 1 | 2,600 | 0 | 0 | 0.100 | 12.50 MB/s |",
		"| policy/sqlkey | BenchmarkAppend/pgbench | 1 | 88.8 | – | – | 0.003 | – |",
		"**go test reported an error:** go test -bench: exit status 1",
		"2.60 µs/op, 0 allocs/op (max of 1 runs) | PASS |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}
