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
	// hot gives the unmasked variant ns and allocs, the masked one 3 µs
	// and no allocations.
	hot := func(ns, allocs []float64) []goBench {
		return []goBench{
			{Pkg: hotBenchPkg, Name: hotBenchName + "/unmasked", Values: map[string][]float64{"ns/op": ns, "allocs/op": allocs}},
			{Pkg: hotBenchPkg, Name: hotBenchName + "/masked", Values: map[string][]float64{"ns/op": {3000}, "allocs/op": {0}}},
		}
	}
	const (
		simple   = "interlockd ≥ 0.75× pgbouncer TPS, select-simple"
		prepared = "interlockd ≥ 0.75× pgbouncer TPS, select-prepared"
		wideGoal = "interlockd ≥ 1.00× pgbouncer MB/s, wide (3 of 20 columns masked)"
		noMask   = "interlockd-nomask / pgbouncer MB/s, wide (nothing masked)"
		maskCost = "interlockd / interlockd-nomask MB/s, wide (the cost of masking)"
		connect  = "interlockd-redirect / interlockd connections/s, connect"
		redirect = "interlockd-redirect / interlockd TPS, select-simple"
		guardOn  = "interlockd-guard / interlockd-redirect TPS, select-simple (guard on vs. off)"
		bulk     = "interlockd-guard / interlockd-redirect MiB/s, guard-bulk"
		bulkCPU  = "interlockd-guard / interlockd-redirect sender CPU per MiB, guard-bulk"
		hotPath  = "daemon/proxy BenchmarkStatementHit/unmasked ≤ 5 µs/op and 0 allocs/op"
		hotMask  = "daemon/proxy BenchmarkStatementHit/masked ≤ 5 µs/op and 0 allocs/op"
	)
	tests := []struct {
		name string
		rep  report
		want map[string]string // status by goal (prefix of its What); the rest "not measured"
	}{
		{
			name: "pass: ratios paired per round",
			rep: report{Workloads: []*workloadResult{
				fakeWorkload("select-simple", map[string][]float64{targetPgbouncer: {100, 200, 100}, targetInterlockd: {80, 160, 76}}),
				fakeWorkload("select-prepared", map[string][]float64{targetPgbouncer: {100, 100, 100}, targetInterlockd: {75, 90, 60}}),
			}, GoBenches: hot([]float64{2100, 2500, 2300}, []float64{0, 0, 0})},
			want: map[string]string{simple: "PASS", prepared: "PASS", hotPath: "PASS", hotMask: "PASS"},
		},
		{
			name: "fail below 0.75 and a slow or allocating hot path",
			rep: report{Workloads: []*workloadResult{
				fakeWorkload("select-simple", map[string][]float64{targetPgbouncer: {100, 100, 100}, targetInterlockd: {70, 74, 90}}),
			}, GoBenches: hot([]float64{2100, 2500, 2300}, []float64{0, 1, 0})},
			want: map[string]string{simple: "FAIL", hotPath: "FAIL", hotMask: "PASS"},
		},
		{
			name: "hot path over 5 µs",
			rep:  report{GoBenches: hot([]float64{5100, 5200, 4900}, []float64{0, 0, 0})},
			want: map[string]string{hotPath: "FAIL", hotMask: "PASS"},
		},
		{
			name: "pgbouncer not run, interlockd failed every round",
			rep: report{Workloads: []*workloadResult{
				fakeWorkload("select-simple", map[string][]float64{targetDirect: {100, 100}, targetInterlockd: {50, 50}}),
				fakeWorkload("select-prepared", map[string][]float64{targetPgbouncer: {100, 100}, targetInterlockd: {-1, -1}}),
			}},
			want: map[string]string{},
		},
		{
			name: "wide with masking at least as fast as pgbouncer, the others reported",
			rep: report{Workloads: []*workloadResult{
				fakeWorkload("wide", map[string][]float64{targetPgbouncer: {50, 40, 45}, targetInterlockd: {51, 40, 46}, targetNoMask: {52, 41, 47}}),
				fakeWorkload("connect", map[string][]float64{targetInterlockd: {300, 310}, targetRedirect: {290, 300}}),
				fakeWorkload("select-simple", map[string][]float64{targetInterlockd: {100}, targetRedirect: {98}, targetGuard: {97}}),
				fakeWorkload("guard-bulk", map[string][]float64{targetRedirect: {4000}, targetGuard: {3900}}),
			}},
			want: map[string]string{wideGoal: "PASS", noMask: "reported", maskCost: "reported", connect: "reported", redirect: "reported", guardOn: "reported", bulk: "reported", bulkCPU: "reported"},
		},
		{
			name: "wide just below pgbouncer",
			rep: report{Workloads: []*workloadResult{
				fakeWorkload("wide", map[string][]float64{targetPgbouncer: {500}, targetInterlockd: {498}}),
			}},
			want: map[string]string{wideGoal: "FAIL"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			goals := tt.rep.goals()
			if want := len(ratioGoals) + len(hotBenchVariants); len(goals) != want {
				t.Fatalf("got %d goals, want %d", len(goals), want)
			}
			matched := 0
			for _, g := range goals {
				want := "not measured"
				for prefix, status := range tt.want {
					if strings.HasPrefix(g.What, prefix) {
						want = status
						matched++
					}
				}
				if g.Status != want {
					t.Errorf("goal %q: got %s (%s), want %s", g.What, g.Status, g.Measured, want)
				}
			}
			if matched != len(tt.want) {
				t.Errorf("%d of the %d expected goals exist", matched, len(tt.want))
			}
		})
	}
	// The first case's simple ratio is the median of 0.80, 0.80, 0.76.
	rep := tests[0].rep
	if m := rep.goals()[0].Measured; !strings.HasPrefix(m, "0.80× (rounds 0.76–0.80)") {
		t.Errorf("measured = %q, want the paired median 0.80× with its range", m)
	}
	// The bulk CPU line compares CPU per MiB, not MiB/s: fakeWorkload's
	// client CPU is 100 µs per transaction for every run.
	for _, g := range tests[4].rep.goals() {
		if strings.HasPrefix(g.What, bulkCPU) && !strings.HasPrefix(g.Measured, "1.00× (rounds 1.00–1.00)") {
			t.Errorf("bulk CPU measured = %q, want 1.00×", g.Measured)
		}
	}
	// 498/500 = 0.996 fails 1.00: shown with 3 decimals, not as 1.00.
	for _, g := range tests[len(tests)-1].rep.goals() {
		if strings.HasPrefix(g.What, wideGoal) && !strings.HasPrefix(g.Measured, "0.996×") {
			t.Errorf("measured = %q, want 0.996×", g.Measured)
		}
	}
}

func TestFmtRatio(t *testing.T) {
	tests := []struct {
		r, threshold float64
		want         string
	}{
		{0.8, 0.75, "0.80"},
		{0.996, 1, "0.996"},
		{1.004, 1, "1.004"},
		{1, 1, "1.00"},
		{0.996, 0, "1.00"},
	}
	for _, tt := range tests {
		if got := fmtRatio(tt.r, tt.threshold); got != tt.want {
			t.Errorf("fmtRatio(%v, %v) = %q, want %q", tt.r, tt.threshold, got, tt.want)
		}
	}
}
