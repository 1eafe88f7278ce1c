package main

import (
	"fmt"
	"math"
	"time"
)

// ratioPairs are the paired TPS ratios reported per round: numerator and
// denominator target. A pair is shown when both targets ran.
var ratioPairs = [][2]string{
	{targetInterlockd, targetPgbouncer},
	{targetInterlockd, targetDirect},
	{targetPgbouncer, targetDirect},
}

// tpsGoals are the throughput targets: on Workload, the median
// paired ratio Num/Den must be at least Min.
var tpsGoals = []struct {
	Workload, Num, Den string
	Min                float64
}{
	{"select-simple", targetInterlockd, targetPgbouncer, 0.75},
	{"select-prepared", targetInterlockd, targetPgbouncer, 0.75},
}

// report is everything the Markdown summary shows.
type report struct {
	Meta      reportMeta
	Workloads []*workloadResult
	// PgbenchErr ended the pgbench phase early (interrupted, a proxy died).
	PgbenchErr error
	GoBenches  []goBench
	GoSkipped  bool
	GoCount    int
	GoErr      error
}

// reportMeta describes the run.
type reportMeta struct {
	Started            time.Time
	Took               time.Duration
	CPUs               int
	Kernel             string
	LoadStart, LoadEnd string
	Commit             string
	Versions           []string // "PostgreSQL 15.18", …
	Rounds             int
	Duration, Warmup   time.Duration
}

// goal is one pass/fail line of the targets.
type goal struct {
	What, Measured string
	// Status is "PASS", "FAIL" or "not measured".
	Status string
}

// goals evaluates the targets.
func (r *report) goals() []goal {
	var out []goal
	for _, g := range tpsGoals {
		what := fmt.Sprintf("%s ≥ %.2f× %s TPS, %s", g.Num, g.Min, g.Den, g.Workload)
		wr := r.workload(g.Workload)
		if wr == nil || !wr.has(g.Num) || !wr.has(g.Den) {
			out = append(out, goal{What: what, Status: "not measured"})
			continue
		}
		ratios := pairedRatios(wr.series(g.Num, tps), wr.series(g.Den, tps))
		m := median(ratios)
		if math.IsNaN(m) {
			out = append(out, goal{What: what, Status: "not measured"})
			continue
		}
		lo, hi := minMax(ratios)
		out = append(out, goal{
			What:     what,
			Measured: fmt.Sprintf("%.2f× (rounds %.2f–%.2f)", m, lo, hi),
			Status:   passFail(m >= g.Min),
		})
	}
	what := fmt.Sprintf("%s %s ≤ %.0f µs/op and 0 allocs/op", hotBenchPkg, hotBenchName, hotBenchMaxNs/1000.0)
	b, ok := findGoBench(r.GoBenches, hotBenchPkg, hotBenchName)
	if !ok || len(b.Values["ns/op"]) == 0 || len(b.Values["allocs/op"]) == 0 {
		out = append(out, goal{What: what, Status: "not measured"})
	} else {
		ns := median(b.Values["ns/op"])
		_, maxAllocs := minMax(b.Values["allocs/op"])
		out = append(out, goal{
			What:     what,
			Measured: fmt.Sprintf("%.2f µs/op, %s allocs/op (max of %d runs)", ns/1000, fmtNum(maxAllocs, 0), len(b.Values["ns/op"])),
			Status:   passFail(ns <= hotBenchMaxNs && maxAllocs == 0),
		})
	}
	return out
}

func passFail(ok bool) string {
	if ok {
		return "PASS"
	}
	return "FAIL"
}

func (r *report) workload(name string) *workloadResult {
	for _, wr := range r.Workloads {
		if wr.Workload.Name == name {
			return wr
		}
	}
	return nil
}

// Series extractors.
func tps(r runResult) float64 { return r.TPS }
func p50(r runResult) float64 { return r.P50 }
func p99(r runResult) float64 { return r.P99 }

func proxyCPU(r runResult) float64 {
	if !r.HasProxy {
		return math.NaN()
	}
	return r.perTxn(r.ProxyCPU)
}

func pgCPU(r runResult) float64 {
	if !r.HasPGCPU {
		return math.NaN()
	}
	return r.perTxn(r.PGCPU)
}

func clientCPU(r runResult) float64 { return r.perTxn(r.ClientCPU) }
