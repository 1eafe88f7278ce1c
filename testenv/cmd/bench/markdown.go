package main

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

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
		b.WriteString(" (a workload may scale both down to fit the time budget; its section says); `pgbench -n --log` over TCP 127.0.0.1. ")
		if m.Retries > 0 {
			fmt.Fprintf(b, "A workload whose direct figures spread more than %.0f%% across rounds is thrown out and run again, up to %d more time(s), and the attempt with the smallest spread is kept; its section lists the attempts thrown out. ",
				noiseThreshold*100, m.Retries)
		}
		b.WriteString("Figures are medians over rounds; " +
			"p50/p99 come from the per-transaction logs; CPU per transaction from /proc (proxy process; PostgreSQL = postmaster and all backends; the client = pgbench, or the bulk sender). " +
			"Ratios are paired per round (targets run minutes apart at most), then the median taken. " +
			"The machine is shared and noisy: compare ratios, not absolute figures.\n")
	}
	for _, n := range r.Notes {
		fmt.Fprintf(b, "\n%s\n", n)
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
		fmt.Fprintf(b, "%s.", w.About)
		if wr.Note != "" {
			fmt.Fprintf(b, " %s.", wr.Note)
		}
		b.WriteString("\n\n")
	}
	if wr.Duration > 0 {
		fmt.Fprintf(b, "%d rounds × %s", wr.Rounds, wr.Duration)
		if wr.Warmup > 0 {
			fmt.Fprintf(b, " after a %s warm-up run", wr.Warmup)
		}
		b.WriteString(" per target.\n\n")
	}
	unit, per := w.unit(), w.per()
	mbs := wr.BytesPerTxn > 0
	conn := w.connects()
	fmt.Fprintf(b, "| target | %s median (min–max) |", unit)
	cols := 8
	if mbs {
		b.WriteString(" MB/s |")
		cols++
	}
	if conn {
		b.WriteString(" avg connect µs |")
		cols++
	}
	lat := "p50 µs | p99 µs"
	if conn {
		// pgbench's per-transaction latency starts once connected.
		lat = "p50 µs after connect | p99 µs after connect"
	}
	fmt.Fprintf(b, " %[2]s | p50 over direct µs | proxy CPU µs/%[1]s | PostgreSQL CPU µs/%[1]s | client CPU µs/%[1]s |\n|", per, lat)
	b.WriteString(strings.Repeat("---|", cols))
	b.WriteString("\n")
	direct := wr.series(targetDirect, p50)
	for _, t := range wr.Targets {
		tp := wr.series(t, tps)
		lo, hi := minMax(tp)
		fmt.Fprintf(b, "| %s | %s (%s–%s) |", t, fmtNum(median(tp), 0), fmtNum(lo, 0), fmtNum(hi, 0))
		if mbs {
			fmt.Fprintf(b, " %s |", fmtNum(median(tp)*float64(wr.BytesPerTxn)/1e6, 0))
		}
		if conn {
			fmt.Fprintf(b, " %s |", fmtNum(median(wr.series(t, connectUS)), 0))
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

	// Per round: the rate of each target, then the paired ratios.
	b.WriteString("| per round |")
	for i := range wr.Rounds {
		fmt.Fprintf(b, " %d |", i+1)
	}
	b.WriteString(" median |\n|---|")
	b.WriteString(strings.Repeat("---|", wr.Rounds+1))
	b.WriteString("\n")
	for _, t := range wr.Targets {
		s := wr.series(t, tps)
		writeRow(b, t+" "+unit, s, median(s), 0)
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
			fmt.Fprintf(b, "Direct %s spread across rounds: not enough rounds to judge.\n\n", unit)
		case noisy(d):
			fmt.Fprintf(b, "**Noisy:** direct %s spread across rounds is %.0f%% (max−min over median) > %.0f%%; treat this workload's figures with care.\n\n", unit, sp*100, noiseThreshold*100)
		default:
			fmt.Fprintf(b, "Direct %s spread across rounds: %.0f%% (≤ %.0f%%).\n\n", unit, sp*100, noiseThreshold*100)
		}
	}
	writeDiscarded(b, wr)
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

// writeDiscarded lists the attempts of wr thrown out as noisier than the
// one kept, each with its direct spread and median paired ratios.
func writeDiscarded(b *strings.Builder, wr *workloadResult) {
	if len(wr.Discarded) == 0 {
		return
	}
	fmt.Fprintf(b, "These figures are attempt %d of %d. Thrown out as noisier:\n\n", wr.Attempt, len(wr.Discarded)+1)
	for _, d := range wr.Discarded {
		fmt.Fprintf(b, "- attempt %d: direct spread %.0f%%", d.Attempt, d.directSpread()*100)
		for _, p := range ratioPairs {
			if d.has(p[0]) && d.has(p[1]) {
				fmt.Fprintf(b, "; %s/%s %s×", p[0], p[1], fmtNum(median(pairedRatios(d.series(p[0], tps), d.series(p[1], tps))), 2))
			}
		}
		b.WriteString("\n")
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
			fmtNum(ns, nsPrecision(ns)), fmtNum(median(gb.Values["B/op"]), 0), fmtNum(median(gb.Values["allocs/op"]), 0),
			fmtNum(ns/ref, 3), orDash(strings.Join(other, ", ")))
	}
}

// nsPrecision shows one decimal below 100 ns/op, none above.
func nsPrecision(ns float64) int {
	if ns < 100 {
		return 1
	}
	return 0
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
