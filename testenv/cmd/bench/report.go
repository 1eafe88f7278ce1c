package main

import (
	"fmt"
	"math"
	"slices"
	"strings"
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

// markdown renders the report.
func (r *report) markdown() string {
	var b strings.Builder
	r.writeHeader(&b)
	r.writeGoals(&b)
	for _, wr := range r.Workloads {
		writeWorkload(&b, wr)
	}
	if r.PgbenchErr != nil {
		fmt.Fprintf(&b, "**The pgbench phase ended early:** %s\n\n", oneLine(r.PgbenchErr.Error()))
	}
	r.writeGo(&b)
	return b.String()
}

func (r *report) writeHeader(b *strings.Builder) {
	m := r.Meta
	b.WriteString("# Interlock benchmarks\n\n")
	fmt.Fprintf(b, "Run %s, took %s on %d CPUs (kernel %s), load average %s at start and %s at end",
		m.Started.UTC().Format("2006-01-02 15:04 MST"), m.Took.Round(time.Second), m.CPUs, m.Kernel, m.LoadStart, m.LoadEnd)
	if m.Commit != "" {
		fmt.Fprintf(b, ", commit %s", m.Commit)
	}
	b.WriteString(".\n")
	if len(m.Versions) > 0 {
		fmt.Fprintf(b, "%s.\n", strings.Join(m.Versions, ", "))
	}
	if len(r.Workloads) > 0 {
		fmt.Fprintf(b, "\nMethod: one throwaway cluster (fsync off, `pgbench -i -s 1`, vacuumed once), every target in the same run; "+
			"%d rounds × %s per workload and target, target order rotated each round", m.Rounds, m.Duration)
		if m.Warmup > 0 {
			fmt.Fprintf(b, " after a %s warm-up run per target", m.Warmup)
		}
		b.WriteString("; `pgbench -n --log` over TCP 127.0.0.1. Figures are medians over rounds; " +
			"p50/p99 come from the per-transaction logs; CPU per transaction from /proc (proxy process; PostgreSQL = postmaster and all backends; pgbench's own). " +
			"Ratios are paired per round (targets run minutes apart at most), then the median taken. " +
			"The machine is shared and noisy: compare ratios, not absolute figures.\n")
	}
	b.WriteString("\n")
}

func (r *report) writeGoals(b *strings.Builder) {
	b.WriteString("## Issue targets\n\n| target | measured | result |\n|---|---|---|\n")
	for _, g := range r.goals() {
		measured := g.Measured
		if measured == "" {
			measured = "–"
		}
		fmt.Fprintf(b, "| %s | %s | %s |\n", g.What, measured, g.Status)
	}
	b.WriteString("\n")
}

func writeWorkload(b *strings.Builder, wr *workloadResult) {
	w := wr.Workload
	fmt.Fprintf(b, "## %s: `%s`\n\n", w.Name, w.commandLine())
	if w.About != "" {
		fmt.Fprintf(b, "%s.\n\n", w.About)
	}
	b.WriteString("| target | TPS median (min–max) |")
	if w.BytesPerTxn > 0 {
		b.WriteString(" MB/s |")
	}
	b.WriteString(" p50 µs | p99 µs | p50 over direct µs | proxy CPU µs/txn | PostgreSQL CPU µs/txn | pgbench CPU µs/txn |\n|---|---|")
	if w.BytesPerTxn > 0 {
		b.WriteString("---|")
	}
	b.WriteString("---|---|---|---|---|---|\n")
	direct := wr.series(targetDirect, p50)
	for _, t := range wr.Targets {
		tp := wr.series(t, tps)
		lo, hi := minMax(tp)
		fmt.Fprintf(b, "| %s | %s (%s–%s) |", t, fmtNum(median(tp), 0), fmtNum(lo, 0), fmtNum(hi, 0))
		if w.BytesPerTxn > 0 {
			fmt.Fprintf(b, " %s |", fmtNum(median(tp)*float64(w.BytesPerTxn)/1e6, 0))
		}
		over := "–"
		if t != targetDirect && wr.has(targetDirect) {
			over = fmtSigned(median(pairedDiffs(wr.series(t, p50), direct)), 0)
		}
		fmt.Fprintf(b, " %s | %s | %s | %s | %s | %s |\n",
			fmtNum(median(wr.series(t, p50)), 0), fmtNum(median(wr.series(t, p99)), 0), over,
			fmtNum(median(wr.series(t, proxyCPU)), 1), fmtNum(median(wr.series(t, pgCPU)), 1), fmtNum(median(wr.series(t, clientCPU)), 1))
	}
	b.WriteString("\n")

	// Per round: TPS of each target, then the paired ratios.
	b.WriteString("| per round |")
	for i := range wr.Rounds {
		fmt.Fprintf(b, " %d |", i+1)
	}
	b.WriteString(" median |\n|---|")
	b.WriteString(strings.Repeat("---|", wr.Rounds+1))
	b.WriteString("\n")
	for _, t := range wr.Targets {
		s := wr.series(t, tps)
		writeRow(b, t+" TPS", s, median(s), 0)
	}
	for _, p := range ratioPairs {
		if !wr.has(p[0]) || !wr.has(p[1]) {
			continue
		}
		s := pairedRatios(wr.series(p[0], tps), wr.series(p[1], tps))
		writeRow(b, p[0]+"/"+p[1], s, median(s), 2)
	}
	b.WriteString("\n")

	if wr.has(targetDirect) {
		d := wr.series(targetDirect, tps)
		sp := spread(d)
		switch {
		case math.IsNaN(sp):
			b.WriteString("Direct TPS spread across rounds: not enough rounds to judge.\n\n")
		case noisy(d):
			fmt.Fprintf(b, "**Noisy:** direct TPS spread across rounds is %.0f%% (max−min over median) > %.0f%%; treat this workload's figures with care.\n\n", sp*100, noiseThreshold*100)
		default:
			fmt.Fprintf(b, "Direct TPS spread across rounds: %.0f%% (≤ %.0f%%).\n\n", sp*100, noiseThreshold*100)
		}
	}
	for _, t := range wr.Targets {
		for _, run := range wr.Runs[t] {
			if run.Err != nil {
				fmt.Fprintf(b, "- round %d, %s failed: %s\n", run.Round+1, t, oneLine(run.Err.Error()))
			} else if run.Failed > 0 {
				fmt.Fprintf(b, "- round %d, %s: %d failed transactions\n", run.Round+1, t, run.Failed)
			}
		}
	}
	b.WriteString("\n")
}

func writeRow(b *strings.Builder, label string, values []float64, med float64, prec int) {
	fmt.Fprintf(b, "| %s |", label)
	for _, v := range values {
		fmt.Fprintf(b, " %s |", fmtNum(v, prec))
	}
	fmt.Fprintf(b, " **%s** |\n", fmtNum(med, prec))
}

func (r *report) writeGo(b *strings.Builder) {
	b.WriteString("## Go micro-benchmarks\n\n")
	if r.GoSkipped {
		b.WriteString("Skipped (-skip-go).\n")
		return
	}
	fmt.Fprintf(b, "`go test -run=- -bench=. -benchmem -count=%d %s`; medians over the runs. "+
		"\"× ref\" is ns/op over %s %s (a pg_query parse of pgbench's SELECT) from the same run, to compare across machines.\n\n",
		r.GoCount, strings.Join(goBenchPackages, " "), refBenchPkg, refBenchName)
	if r.GoErr != nil {
		fmt.Fprintf(b, "**go test reported an error:** %s\n\n", oneLine(r.GoErr.Error()))
	}
	if len(r.GoBenches) == 0 {
		b.WriteString("No benchmark results.\n")
		return
	}
	ref := math.NaN()
	if rb, ok := findGoBench(r.GoBenches, refBenchPkg, refBenchName); ok {
		ref = median(rb.Values["ns/op"])
	}
	b.WriteString("| package | benchmark | runs | ns/op | B/op | allocs/op | × ref | other |\n|---|---|---|---|---|---|---|---|\n")
	for _, gb := range r.GoBenches {
		ns := median(gb.Values["ns/op"])
		var other []string
		for _, u := range gb.Units {
			if !slices.Contains([]string{"ns/op", "B/op", "allocs/op"}, u) {
				other = append(other, fmtNum(median(gb.Values[u]), 2)+" "+u)
			}
		}
		fmt.Fprintf(b, "| %s | %s | %d | %s | %s | %s | %s | %s |\n", gb.Pkg, gb.Name, len(gb.Values["ns/op"]),
			fmtNum(ns, 1), fmtNum(median(gb.Values["B/op"]), 0), fmtNum(median(gb.Values["allocs/op"]), 0),
			fmtNum(ns/ref, 3), orDash(strings.Join(other, ", ")))
	}
}

// pairedDiffs subtracts b from a round by round, NaN where either is missing.
func pairedDiffs(a, b []float64) []float64 {
	out := make([]float64, max(len(a), len(b)))
	for i := range out {
		out[i] = math.NaN()
		if i < len(a) && i < len(b) {
			out[i] = a[i] - b[i] // NaN propagates
		}
	}
	return out
}

// fmtNum formats x with prec decimals and thousands separators, "–" for NaN.
func fmtNum(x float64, prec int) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return "–"
	}
	s := fmt.Sprintf("%.*f", prec, x)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	intPart, frac, hasFrac := strings.Cut(s, ".")
	var g strings.Builder
	for i, c := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			g.WriteByte(',')
		}
		g.WriteRune(c)
	}
	out := g.String()
	if hasFrac {
		out += "." + frac
	}
	if neg {
		out = "-" + out
	}
	return out
}

// fmtSigned is fmtNum with an explicit + for positive values.
func fmtSigned(x float64, prec int) string {
	s := fmtNum(x, prec)
	if !math.IsNaN(x) && x > 0 {
		s = "+" + s
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

// oneLine keeps the first line of s, for table cells and bullets.
func oneLine(s string) string {
	first, rest, _ := strings.Cut(s, "\n")
	if rest != "" {
		first += " …"
	}
	return first
}
