package main

import (
	"fmt"
	"math"
	"time"
)

// ratioPairs are the paired ratios reported per round: numerator and
// denominator target. A pair is shown when both targets ran.
var ratioPairs = [][2]string{
	{targetInterlockd, targetPgbouncer},
	{targetInterlockd, targetDirect},
	{targetPgbouncer, targetDirect},
	{targetNoMask, targetPgbouncer},
	{targetInterlockd, targetNoMask},
	{targetRedirect, targetInterlockd},
	{targetRedirect, targetPgbouncer},
	{targetGuard, targetRedirect},
	{targetGoRelay, targetPgbouncer},
	{targetInterlockd, targetGoRelay},
}

// ratioGoals are the issues' targets: on Workload, the median paired ratio
// Num/Den of the workload's rate must be at least Min. Min 0 reports the
// ratio without a threshold (the issue asks for the figure only).
var ratioGoals = []struct {
	Workload, Num, Den string
	Min                float64
	// Rate names what is compared when not the workload's unit.
	Rate string
	// Why is added to the line, e.g. "masked".
	Why string
	// Series, when set, is compared instead of the rate (e.g. CPU per
	// transaction; Rate then names it).
	Series func(runResult) float64
}{
	{Workload: "select-simple", Num: targetInterlockd, Den: targetPgbouncer, Min: 0.75},
	{Workload: "select-prepared", Num: targetInterlockd, Den: targetPgbouncer, Min: 0.75},
	{Workload: "select-simple", Num: targetGoRelay, Den: targetPgbouncer, Why: "the floor of a Go proxy"},
	{Workload: "select-simple", Num: targetInterlockd, Den: targetGoRelay, Why: "the cost of enforcement over that floor"},
	{Workload: "select-prepared", Num: targetGoRelay, Den: targetPgbouncer, Why: "the floor of a Go proxy"},
	{Workload: "select-prepared", Num: targetInterlockd, Den: targetGoRelay, Why: "the cost of enforcement over that floor"},
	{Workload: "wide", Num: targetInterlockd, Den: targetPgbouncer, Min: 1.0, Rate: "MB/s", Why: "3 of 20 columns masked"},
	{Workload: "wide", Num: targetNoMask, Den: targetPgbouncer, Rate: "MB/s", Why: "nothing masked"},
	{Workload: "wide", Num: targetInterlockd, Den: targetNoMask, Rate: "MB/s", Why: "the cost of masking"},
	{Workload: "connect", Num: targetRedirect, Den: targetInterlockd, Why: "connect through the redirect vs. to the listener"},
	{Workload: "select-simple", Num: targetRedirect, Den: targetInterlockd, Why: "pgbench through the redirect vs. to the listener"},
	{Workload: "select-simple", Num: targetGuard, Den: targetRedirect, Why: "guard on vs. off"},
	{Workload: "guard-bulk", Num: targetGuard, Den: targetRedirect, Why: "bulk TCP to an unprotected port, guard on vs. off"},
	{Workload: "guard-bulk", Num: targetGuard, Den: targetRedirect, Rate: "sender CPU per MiB", Series: clientCPU,
		Why: "the same transfer's cost, steadier than its rate on a shared machine"},
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
	// Notes describe how special targets were set up.
	Notes []string
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
	Rounds, Retries    int
	Duration, Warmup   time.Duration
}

// goal is one pass/fail line of the targets.
type goal struct {
	What, Measured string
	// Status is "PASS", "FAIL", "reported" (no threshold) or "not measured".
	Status string
}

// goals evaluates the targets.
func (r *report) goals() []goal {
	var out []goal
	for _, g := range ratioGoals {
		rate := g.Rate
		if rate == "" {
			rate = "TPS"
			if w, ok := findWorkload(g.Workload); ok {
				rate = w.unit()
			}
		}
		what := fmt.Sprintf("%s ≥ %.2f× %s %s, %s", g.Num, g.Min, g.Den, rate, g.Workload)
		if g.Min == 0 {
			what = fmt.Sprintf("%s / %s %s, %s", g.Num, g.Den, rate, g.Workload)
		}
		if g.Why != "" {
			what += " (" + g.Why + ")"
		}
		wr := r.workload(g.Workload)
		if wr == nil || !wr.has(g.Num) || !wr.has(g.Den) {
			out = append(out, goal{What: what, Status: "not measured"})
			continue
		}
		f := g.Series
		if f == nil {
			f = tps
		}
		ratios := pairedRatios(wr.series(g.Num, f), wr.series(g.Den, f))
		m := median(ratios)
		if math.IsNaN(m) {
			out = append(out, goal{What: what, Status: "not measured"})
			continue
		}
		lo, hi := minMax(ratios)
		gl := goal{What: what, Measured: fmt.Sprintf("%s× (rounds %.2f–%.2f)", fmtRatio(m, g.Min), lo, hi), Status: "reported"}
		if g.Min > 0 {
			gl.Status = passFail(m >= g.Min)
		}
		out = append(out, gl)
	}
	for _, v := range hotBenchVariants {
		name := hotBenchName + "/" + v
		what := fmt.Sprintf("%s %s ≤ %.0f µs/op and 0 allocs/op", hotBenchPkg, name, hotBenchMaxNs/1000.0)
		b, ok := findGoBench(r.GoBenches, hotBenchPkg, name)
		if !ok || len(b.Values["ns/op"]) == 0 || len(b.Values["allocs/op"]) == 0 {
			out = append(out, goal{What: what, Status: "not measured"})
			continue
		}
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

// fmtRatio shows r with 2 decimals, or 3 when 2 would make it look equal
// to a threshold it misses or meets only barely (0.996 is not 1.00).
func fmtRatio(r, threshold float64) string {
	s := fmt.Sprintf("%.2f", r)
	if threshold > 0 && s == fmt.Sprintf("%.2f", threshold) && r != threshold {
		s = fmt.Sprintf("%.3f", r)
	}
	return s
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

func connectUS(r runResult) float64 {
	if r.ConnectUS <= 0 {
		return math.NaN()
	}
	return r.ConnectUS
}
