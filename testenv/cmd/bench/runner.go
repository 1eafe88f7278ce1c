package main

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"time"
)

// workloadResult holds every run of one workload.
type workloadResult struct {
	Workload workload
	// Targets in table order.
	Targets []string
	// Rounds is how many rounds were planned.
	Rounds int
	// Runs[target][round]; a round not run (interrupted) is absent.
	Runs map[string][]runResult
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
}

// runWorkloads runs each workload for plan.Rounds rounds; each round runs
// every target once, in an order rotated by one each round. A failed run
// is recorded and the bench goes on; a proxy that died or a cancelled ctx
// ends it, returning what was measured so far.
func runWorkloads(ctx context.Context, st *stack, plan runPlan, log *slog.Logger) ([]*workloadResult, error) {
	var results []*workloadResult
	for _, w := range plan.Workloads {
		wr := &workloadResult{Workload: w, Rounds: plan.Rounds, Runs: map[string][]runResult{}}
		for _, t := range st.targets {
			wr.Targets = append(wr.Targets, t.Name)
			wr.Runs[t.Name] = nil
		}
		results = append(results, wr)
		if plan.Warmup > 0 {
			for _, t := range st.targets {
				res := runPgbench(ctx, st, t, w, plan.Warmup, fmt.Sprintf("%s-%s-warmup", w.Name, t.Name))
				if err := checkRun(ctx, t, res); err != nil {
					return results, err
				}
				if res.Err != nil {
					log.Warn("warm-up run failed", "workload", w.Name, "target", t.Name, "err", res.Err)
				}
			}
		}
		for r := range plan.Rounds {
			for i, t := range rotate(st.targets, r) {
				res := runPgbench(ctx, st, t, w, plan.Duration, fmt.Sprintf("%s-%s-r%d", w.Name, t.Name, r+1))
				res.Round, res.Order = r, i
				if err := checkRun(ctx, t, res); err != nil {
					return results, err
				}
				wr.Runs[t.Name] = append(wr.Runs[t.Name], res)
				logRun(log, w, t, res)
			}
		}
	}
	return results, nil
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
	attrs = append(attrs, "tps", int(res.TPS), "p50_us", res.P50, "p99_us", res.P99)
	if res.HasProxy {
		attrs = append(attrs, "proxy_cpu_us_per_txn", round1(res.perTxn(res.ProxyCPU)))
	}
	log.Info("run", attrs...)
}

func round1(x float64) float64 { return math.Round(x*10) / 10 }
