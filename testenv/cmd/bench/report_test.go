package main

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// fakeWorkload builds a workload result from TPS per round and target; a
// negative TPS marks a failed run.
func fakeWorkload(name string, tpsByTarget map[string][]float64) *workloadResult {
	w, _ := findWorkload(name)
	wr := &workloadResult{Workload: w, Runs: map[string][]runResult{}}
	for _, t := range targets {
		series, ok := tpsByTarget[t.Name]
		if !ok {
			continue
		}
		wr.Targets = append(wr.Targets, t.Name)
		wr.Rounds = len(series)
		for r, v := range series {
			run := runResult{Round: r, TPS: v, Txns: int64(v * 10), P50: 100, P99: 300, ClientCPU: time.Duration(v*10) * 10 * time.Microsecond}
			if v < 0 {
				run = runResult{Round: r, Err: errors.New("pgbench: connection refused\nmore")}
			}
			wr.Runs[t.Name] = append(wr.Runs[t.Name], run)
		}
	}
	return wr
}

func TestGoals(t *testing.T) {
	hot := func(ns, allocs []float64) []goBench {
		return []goBench{{Pkg: hotBenchPkg, Name: hotBenchName, Values: map[string][]float64{"ns/op": ns, "allocs/op": allocs}}}
	}
	tests := []struct {
		name string
		rep  report
		want []string // status of each goal, in order
	}{
		{
			name: "pass: ratios paired per round",
			rep: report{Workloads: []*workloadResult{
				fakeWorkload("select-simple", map[string][]float64{targetPgbouncer: {100, 200, 100}, targetInterlockd: {80, 160, 76}}),
				fakeWorkload("select-prepared", map[string][]float64{targetPgbouncer: {100, 100, 100}, targetInterlockd: {75, 90, 60}}),
			}, GoBenches: hot([]float64{2100, 2500, 2300}, []float64{0, 0, 0})},
			want: []string{"PASS", "PASS", "PASS"},
		},
		{
			name: "fail below 0.75 and a slow or allocating hot path",
			rep: report{Workloads: []*workloadResult{
				fakeWorkload("select-simple", map[string][]float64{targetPgbouncer: {100, 100, 100}, targetInterlockd: {70, 74, 90}}),
			}, GoBenches: hot([]float64{2100, 2500, 2300}, []float64{0, 1, 0})},
			want: []string{"FAIL", "not measured", "FAIL"},
		},
		{
			name: "hot path over 5 µs",
			rep:  report{GoBenches: hot([]float64{5100, 5200, 4900}, []float64{0, 0, 0})},
			want: []string{"not measured", "not measured", "FAIL"},
		},
		{
			name: "pgbouncer not run, interlockd failed every round",
			rep: report{Workloads: []*workloadResult{
				fakeWorkload("select-simple", map[string][]float64{targetDirect: {100, 100}, targetInterlockd: {50, 50}}),
				fakeWorkload("select-prepared", map[string][]float64{targetPgbouncer: {100, 100}, targetInterlockd: {-1, -1}}),
			}},
			want: []string{"not measured", "not measured", "not measured"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			goals := tt.rep.goals()
			if len(goals) != len(tt.want) {
				t.Fatalf("got %d goals, want %d", len(goals), len(tt.want))
			}
			for i, g := range goals {
				if g.Status != tt.want[i] {
					t.Errorf("goal %q: got %s (%s), want %s", g.What, g.Status, g.Measured, tt.want[i])
				}
			}
		})
	}
	// The first case's simple ratio is the median of 0.80, 0.80, 0.76.
	rep := tests[0].rep
	if m := rep.goals()[0].Measured; !strings.HasPrefix(m, "0.80× (rounds 0.76–0.80)") {
		t.Errorf("measured = %q, want the paired median 0.80× with its range", m)
	}
}

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
	}, GoErr: errors.New("go test -bench: exit status 1")}
	md := rep.markdown()
	for _, want := range []string{
		"| policy/analysis | BenchmarkAnalyzePgbenchSelect | 3 | 26,000.0 | 1,900 | 41 | 1.000 | – |",
		"| daemon/proxy | BenchmarkStatementHit | 1 | 2,600.0 | 0 | 0 | 0.100 | 12.50 MB/s |",
		"**go test reported an error:** go test -bench: exit status 1",
		"2.60 µs/op, 0 allocs/op (max of 1 runs) | PASS |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}

func TestFmtNum(t *testing.T) {
	tests := []struct {
		x    float64
		prec int
		want string
	}{
		{35512.4, 0, "35,512"},
		{1234567.891, 2, "1,234,567.89"},
		{999, 0, "999"},
		{-48213, 0, "-48,213"},
		{0.5, 2, "0.50"},
		{nan, 1, "–"},
	}
	for _, tt := range tests {
		if got := fmtNum(tt.x, tt.prec); got != tt.want {
			t.Errorf("fmtNum(%v, %d) = %q, want %q", tt.x, tt.prec, got, tt.want)
		}
	}
	if got := fmtSigned(48, 0); got != "+48" {
		t.Errorf("fmtSigned(48) = %q, want +48", got)
	}
}
