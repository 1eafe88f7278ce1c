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
		{Pkg: hotBenchPkg, Name: hotBenchName + "/masked", Units: []string{"ns/op", "B/op", "allocs/op", "MB/s"},
			Values: map[string][]float64{"ns/op": {2600}, "B/op": {0}, "allocs/op": {0}, "MB/s": {12.5}}},
		{Pkg: "policy/sqlkey", Name: "BenchmarkAppend/pgbench", Units: []string{"ns/op"}, Values: map[string][]float64{"ns/op": {88.84}}},
	}, GoErr: errors.New("go test -bench: exit status 1")}
	md := rep.markdown()
	for _, want := range []string{
		"| policy/analysis | BenchmarkAnalyzePgbenchSelect | 3 | 26,000 | 1,900 | 41 | 1.000 | – |",
		"| daemon/proxy | BenchmarkStatementHit/masked | 1 | 2,600 | 0 | 0 | 0.100 | 12.50 MB/s |",
		"| policy/sqlkey | BenchmarkAppend/pgbench | 1 | 88.8 | – | – | 0.003 | – |",
		"**go test reported an error:** go test -bench: exit status 1",
		"BenchmarkStatementHit/masked ≤ 5 µs/op and 0 allocs/op | 2.60 µs/op, 0 allocs/op (max of 1 runs) | PASS |",
		"BenchmarkStatementHit/unmasked ≤ 5 µs/op and 0 allocs/op | – | not measured |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}

// TestMarkdownWorkloadColumns: MB/s from the measured bytes per
// transaction, the rate's unit, the connect column and the notes.
func TestMarkdownWorkloadColumns(t *testing.T) {
	wide := fakeWorkload("wide", map[string][]float64{targetPgbouncer: {50, 60}, targetInterlockd: {55, 60}, targetNoMask: {50, 50}})
	wide.BytesPerTxn, wide.Note, wide.Duration = 4_000_000, "A transaction reads 4,000,000 bytes", 6*time.Second
	conn := fakeWorkload("connect", map[string][]float64{targetInterlockd: {300, 320}, targetRedirect: {290, 300}})
	for name, runs := range conn.Runs {
		for i := range runs {
			conn.Runs[name][i].ConnectUS = 4000
		}
	}
	bulk := fakeWorkload("guard-bulk", map[string][]float64{targetRedirect: {4000, 4200}, targetGuard: {3900, 4100}})
	rep := report{
		Meta:      reportMeta{Rounds: 2, Duration: 10 * time.Second},
		Workloads: []*workloadResult{wide, conn, bulk},
		Notes:     []string{"Redirect targets: a note."},
		GoSkipped: true,
	}
	md := rep.markdown()
	for _, want := range []string{
		"\nRedirect targets: a note.\n",
		". A transaction reads 4,000,000 bytes.\n\n2 rounds × 6s per target.",
		"| target | TPS median (min–max) | MB/s | p50 µs | p99 µs |",
		"| interlockd | 58 (55–60) | 230 |",
		"| interlockd/interlockd-nomask | 1.10 | 1.20 | **1.15** |",
		"| target | connections/s median (min–max) | avg connect µs | p50 µs after connect | p99 µs after connect | p50 over direct µs | proxy CPU µs/conn |",
		"| interlockd-redirect | 295 (290–300) | 4,000 |",
		"| interlockd-redirect connections/s | 290 | 300 | **295** |",
		"| interlockd-redirect/interlockd | 0.97 | 0.94 | **0.95** |",
		"## guard-bulk: `bulk TCP send, 256 KiB writes,",
		"| target | MiB/s median (min–max) | p50 µs |",
		"| interlockd-guard/interlockd-redirect | 0.97 | 0.98 | **0.98** |",
		"| interlockd ≥ 1.00× pgbouncer MB/s, wide (3 of 20 columns masked) | 1.05× (rounds 1.00–1.10) | PASS |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}
