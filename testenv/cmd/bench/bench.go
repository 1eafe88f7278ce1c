package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/procfs"
)

// bench runs the pgbench phase and the Go micro-benchmarks and returns the
// report, which is nil only when nothing could start. progress receives
// go test's output as it runs.
func bench(ctx context.Context, o options, progress io.Writer, log *slog.Logger) (*report, error) {
	started := time.Now()
	root, err := moduleRoot(ctx)
	if err != nil {
		return nil, err
	}
	ws, err := selectWorkloads(o.Workloads)
	if err != nil {
		return nil, err
	}
	specs, err := selectTargets(o.Targets)
	if err != nil {
		return nil, err
	}
	rep := &report{GoSkipped: o.SkipGo, GoCount: o.GoCount, Meta: reportMeta{
		Started: started, CPUs: runtime.NumCPU(), Kernel: kernelRelease(), LoadStart: loadAverage(),
		Commit: gitCommit(ctx, root), Rounds: o.Rounds, Retries: o.Retries, Duration: o.Duration, Warmup: o.Warmup,
		Versions: []string{runtime.Version()},
	}}
	var errs []error
	specs = usedTargets(ws, specs)
	if os.Geteuid() != 0 && !o.TargetsGiven {
		// The default targets include the eBPF ones; without root the
		// others still run.
		var skipped []string
		specs = slices.DeleteFunc(specs, func(s targetSpec) bool {
			if s.Redirect {
				skipped = append(skipped, s.Name)
			}
			return s.Redirect
		})
		if len(skipped) > 0 {
			log.Warn("not root: skipping the eBPF targets", "targets", skipped)
			rep.Notes = append(rep.Notes, fmt.Sprintf("**Not measured:** %s need root (the eBPF redirect and guard); run `sudo make bench`.", strings.Join(skipped, ", ")))
		}
	}
	if len(ws) > 0 && len(specs) > 0 {
		tl, err := findTools(ctx, root, o.Interlockd,
			slices.ContainsFunc(specs, func(s targetSpec) bool { return s.Pgbouncer }),
			slices.ContainsFunc(specs, func(s targetSpec) bool { return s.Interlockd }), log)
		if err != nil {
			return nil, err
		}
		rep.Meta.Versions = append(toolVersions(ctx, tl), rep.Meta.Versions...)
		planned := plannedTime(ws, specs, o)
		log.Info("starting pgbench phase", "workloads", len(ws), "targets", len(specs), "rounds", o.Rounds,
			"planned", planned.Round(time.Second))
		st, err := startStack(ctx, stackOptions{
			Tools: tl, Targets: specs, Workloads: ws, TokenTTL: time.Hour + time.Duration(2+o.Retries)*planned,
			GuardInterfaces: o.GuardInterfaces, Logger: log,
		})
		if err != nil {
			return nil, err
		}
		rep.Notes = append(rep.Notes, st.notes...)
		rep.Workloads, rep.PgbenchErr = runWorkloads(ctx, st, runPlan{
			Workloads: ws, Rounds: o.Rounds, Duration: o.Duration, Warmup: o.Warmup, Retries: o.Retries,
		}, log)
		errs = append(errs, rep.PgbenchErr, st.Close())
		if n := failedRuns(rep.Workloads); n > 0 {
			errs = append(errs, fmt.Errorf("%d pgbench runs failed; see the report", n))
		}
	}
	if !o.SkipGo && ctx.Err() == nil {
		rep.GoBenches, rep.GoErr = runGoBenchmarks(ctx, root, o.GoCount, progress, log)
		errs = append(errs, rep.GoErr)
	}
	rep.Meta.Took, rep.Meta.LoadEnd = time.Since(started), loadAverage()
	return rep, errors.Join(errs...)
}

// plannedTime is how long the runs take: per workload and target, the
// rounds and the warm-up, scaled.
func plannedTime(ws []workload, specs []targetSpec, o options) time.Duration {
	var d time.Duration
	for _, w := range ws {
		for _, s := range specs {
			if w.runsOn(s) {
				d += time.Duration(o.Rounds)*w.scaled(o.Duration) + w.scaled(o.Warmup)
			}
		}
	}
	return d
}

func failedRuns(results []*workloadResult) int {
	n := 0
	for _, wr := range results {
		for _, runs := range wr.Runs {
			for _, r := range runs {
				if r.Err != nil {
					n++
				}
			}
		}
	}
	return n
}

// toolVersions are the external tools' versions for the report.
func toolVersions(ctx context.Context, t tools) []string {
	var out []string
	for _, p := range []string{filepath.Join(t.PGBinDir, "postgres"), t.Pgbench, t.Pgbouncer} {
		if v := toolVersion(ctx, p); v != "" {
			out = append(out, v)
		}
	}
	return out
}

func kernelRelease() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}

func loadAverage() string {
	fs, err := procfs.NewDefaultFS()
	if err != nil {
		return "unknown"
	}
	l, err := fs.LoadAvg()
	if err != nil {
		return "unknown"
	}
	return fmt.Sprintf("%.2f/%.2f/%.2f", l.Load1, l.Load5, l.Load15)
}

// gitCommit is the checked-out commit (read-only git), empty if unknown.
func gitCommit(ctx context.Context, root string) string {
	out, err := exec.CommandContext(ctx, "git", "-C", root, "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}
