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
