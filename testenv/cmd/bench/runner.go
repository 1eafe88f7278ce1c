package main

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"time"
)

// workloadResult holds every run of one workload.
type workloadResult struct {
	Workload workload
	// Targets in table order.
	Targets []string
	// Rounds is how many rounds were planned; Duration and Warmup are the
	// workload's (scaled) run lengths.
	Rounds           int
	Duration, Warmup time.Duration
	// BytesPerTxn, when positive, gives the MB/s column.
	BytesPerTxn int64
	// Note is what the workload's setup reported.
	Note string
	// Runs[target][round]; a round not run (interrupted) is absent.
	Runs map[string][]runResult
	// Attempt is which run of the workload Runs holds (1 for the first);
	// Discarded are the others, thrown out as noisier (see keepQuietest),
	// in the order they ran.
	Attempt   int
	Discarded []*workloadResult
}

// directSpread is the spread of direct's rate across rounds, NaN without
// a direct target or with too few rounds.
func (wr *workloadResult) directSpread() float64 {
	if !wr.has(targetDirect) {
		return math.NaN()
	}
	return spread(wr.series(targetDirect, tps))
}

// tooNoisy reports whether direct's rate spread more than noiseThreshold.
func (wr *workloadResult) tooNoisy() bool {
	return wr.has(targetDirect) && noisy(wr.series(targetDirect, tps))
}

// retry sets the runs aside as a discarded attempt and starts the next.
func (wr *workloadResult) retry() {
	old := *wr
	old.Discarded = nil
	wr.Discarded = append(wr.Discarded, &old)
	wr.Attempt++
	wr.Runs = map[string][]runResult{}
	for _, t := range wr.Targets {
		wr.Runs[t] = nil
	}
}

// keepQuietest keeps the attempt whose direct rate spread least (the
// latest on a tie or when none can be judged) and lists the others as
// discarded, in the order they ran.
func (wr *workloadResult) keepQuietest() {
	cur := *wr
	cur.Discarded = nil
	all := append(slices.Clone(wr.Discarded), &cur) // in the order they ran
	best := len(all) - 1
	bestSp := all[best].directSpread()
	for i := best - 1; i >= 0; i-- {
		if sp := all[i].directSpread(); sp < bestSp || math.IsNaN(bestSp) && !math.IsNaN(sp) {
			best, bestSp = i, sp
		}
	}
	wr.Runs, wr.Attempt = all[best].Runs, all[best].Attempt
	wr.Discarded = slices.Delete(all, best, best+1)
}

// series returns f of each round's run of target, NaN for a failed or
// missing run.
func (wr *workloadResult) series(target string, f func(runResult) float64) []float64 {
	out := make([]float64, wr.Rounds)
	runs := wr.Runs[target]
	for i := range out {
		out[i] = math.NaN()
		if i < len(runs) && runs[i].Err == nil {
			out[i] = f(runs[i])
		}
	}
	return out
}

// has reports whether target is part of the result.
func (wr *workloadResult) has(target string) bool {
	_, ok := wr.Runs[target]
	return ok
}

// runPlan is what runWorkloads runs.
type runPlan struct {
	Workloads []workload
	Rounds    int
	Duration  time.Duration
	// Warmup is a discarded run per target before the rounds; 0 skips it.
	Warmup time.Duration
	// Retries is how many times a workload whose direct rate spread more
	// than noiseThreshold across its rounds is run again (all rounds, all
	// targets); the quietest attempt is kept.
	Retries int
}

// runWorkloads runs each workload for plan.Rounds rounds; each round runs
// every target of the workload once, in an order rotated by one each
// round. A workload too noisy to judge (direct's rate spread more than
// noiseThreshold) runs again, up to plan.Retries times, and the quietest
// attempt is kept. A failed run is recorded and the bench goes on; a proxy that died,
// a target that could not be reset (End) or a cancelled ctx ends it,
// returning what was measured so far.
func runWorkloads(ctx context.Context, st *stack, plan runPlan, log *slog.Logger) ([]*workloadResult, error) {
	var results []*workloadResult
	for _, w := range plan.Workloads {
		ts := st.targetsFor(w)
		wr := &workloadResult{
			Workload: w, Rounds: plan.Rounds, Duration: w.scaled(plan.Duration), Warmup: w.scaled(plan.Warmup),
			BytesPerTxn: w.BytesPerTxn, Runs: map[string][]runResult{}, Attempt: 1,
		}
		if s, ok := st.setups[w.Name]; ok {
			if s.BytesPerTxn > 0 {
				wr.BytesPerTxn = s.BytesPerTxn
			}
			wr.Note = s.Note
		}
		for _, t := range ts {
			wr.Targets = append(wr.Targets, t.Name)
			wr.Runs[t.Name] = nil
		}
		results = append(results, wr)
		if len(ts) == 0 {
			log.Warn("no selected target for workload", "workload", w.Name)
			continue
		}
		if wr.Warmup > 0 {
			for _, t := range ts {
				res, err := runOne(ctx, st, t, w, wr.Warmup, fmt.Sprintf("%s-%s-warmup", w.Name, t.Name))
				if err != nil {
					return results, err
				}
				if res.Err != nil {
					log.Warn("warm-up run failed", "workload", w.Name, "target", t.Name, "err", res.Err)
				}
			}
		}
		for {
			if err := runRounds(ctx, st, ts, wr, log); err != nil {
				return results, err
			}
			if !wr.tooNoisy() || len(wr.Discarded) >= plan.Retries {
				break
			}
			log.Warn("direct figures too noisy to judge; running the workload again", "workload", w.Name,
				"attempt", wr.Attempt, "direct_spread_pct", round1(100*wr.directSpread()))
			wr.retry()
		}
		wr.keepQuietest()
	}
	return results, nil
}

// runRounds runs wr's rounds: every target once a round, in an order
// rotated by one each round.
func runRounds(ctx context.Context, st *stack, ts []*target, wr *workloadResult, log *slog.Logger) error {
	w := wr.Workload
	for r := range wr.Rounds {
		for i, t := range rotate(ts, r) {
			name := fmt.Sprintf("%s-%s-r%d", w.Name, t.Name, r+1)
			if wr.Attempt > 1 {
				name = fmt.Sprintf("%s-%s-a%d-r%d", w.Name, t.Name, wr.Attempt, r+1)
			}
			res, err := runOne(ctx, st, t, w, wr.Duration, name)
			res.Round, res.Order = r, i
			if err != nil {
				return err
			}
			wr.Runs[t.Name] = append(wr.Runs[t.Name], res)
			logRun(log, w, t, res)
		}
	}
	return nil
}

// runOne runs workload w against t for d between the target's Begin and
// End. The error is one that must end the bench (see checkRun, and End).
func runOne(ctx context.Context, st *stack, t *target, w workload, d time.Duration, name string) (runResult, error) {
	var res runResult
	began := true
	if t.Begin != nil {
		if err := t.Begin(ctx); err != nil {
			res.Err = fmt.Errorf("begin %s: %w", t.Name, err)
			began = false
		}
	}
	if began {
		if w.Run != nil {
			res = w.Run(ctx, st, t, d, name)
		} else {
			res = runPgbench(ctx, st, t, w, d, name)
		}
	}
	if t.End != nil {
		if err := t.End(); err != nil {
			return res, fmt.Errorf("end %s run: %w", t.Name, err)
		}
	}
	return res, checkRun(ctx, t, res)
}

// checkRun returns an error that must end the bench: ctx cancelled or the
// target's proxy gone.
func checkRun(ctx context.Context, t *target, res runResult) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := t.alive(); err != nil {
		return fmt.Errorf("target %s: %w (last run: %v)", t.Name, err, res.Err)
	}
	return nil
}

func logRun(log *slog.Logger, w workload, t *target, res runResult) {
	attrs := []any{"workload", w.Name, "round", res.Round + 1, "target", t.Name}
	if res.Err != nil {
		log.Warn("run failed", append(attrs, "err", res.Err)...)
		return
	}
	attrs = append(attrs, w.unit(), round1(res.TPS), "p50_us", res.P50, "p99_us", res.P99)
	if res.HasProxy {
		attrs = append(attrs, "proxy_cpu_us_per_txn", round1(res.perTxn(res.ProxyCPU)))
	}
	log.Info("run", attrs...)
}

func round1(x float64) float64 { return math.Round(x*10) / 10 }
