package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// options are the command-line settings.
type options struct {
	Rounds    int
	Retries   int
	Duration  time.Duration
	Warmup    time.Duration
	Workloads []string
	Targets   []string
	// TargetsGiven is set when -targets was on the command line.
	TargetsGiven bool
	SkipGo       bool
	GoCount      int
	Out          string
	Interlockd   string
	// GuardInterfaces get the guard's tc program in interlockd-guard runs.
	GuardInterfaces []string
}

func main() {
	if code, ok := runHelper(os.Args[1:], os.Stdout, os.Stderr); ok {
		os.Exit(code)
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	opts, err := parseFlags(args, stderr)
	if err != nil {
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	rep, err := bench(ctx, opts, stderr, log)
	if rep != nil {
		md := rep.markdown()
		fmt.Fprint(stdout, md)
		if werr := os.WriteFile(opts.Out, []byte(md), 0o644); werr != nil {
			err = errors.Join(err, fmt.Errorf("write report: %w", werr))
		} else {
			log.Info("report written", "path", opts.Out)
		}
	}
	if ctx.Err() != nil {
		fmt.Fprintf(stderr, "bench: interrupted: %v\n", err)
		return 130
	}
	if err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 1
	}
	return 0
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	var workloadList, targetList, guardIfaces string
	fs.IntVar(&o.Rounds, "rounds", 5, "rounds per workload; each runs every target once, order rotated")
	fs.IntVar(&o.Retries, "retries", 1, "times a workload whose direct figures spread more than 15% across rounds is run again; the quietest attempt is kept")
	fs.DurationVar(&o.Duration, "duration", 10*time.Second, "length of each run (pgbench -T, whole seconds); a workload may take a share of it (see its section in the report)")
	fs.DurationVar(&o.Warmup, "warmup", 2*time.Second, "discarded warm-up run per target and workload, scaled like -duration; 0 skips it")
	fs.StringVar(&workloadList, "workloads", strings.Join(defaultWorkloadNames(), ","),
		"comma-separated workloads, empty for none (known: "+strings.Join(workloadNames(), ", ")+")")
	fs.StringVar(&targetList, "targets", strings.Join(targetNames(), ","),
		"comma-separated targets (known: "+strings.Join(targetNames(), ", ")+")")
	fs.BoolVar(&o.SkipGo, "skip-go", false, "skip the Go micro-benchmarks")
	fs.IntVar(&o.GoCount, "go-count", 5, "go test -count for the micro-benchmarks")
	fs.StringVar(&o.Out, "out", "bench-results.md", "Markdown report file")
	fs.StringVar(&guardIfaces, "guard-interfaces", "lo",
		"comma-separated interfaces that get the guard's tc egress program during interlockd-guard runs; empty for none (cgroup_skb only)")
	fs.StringVar(&o.Interlockd, "interlockd", "bin/interlockd", "interlockd binary, relative to the module root; built when missing")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	o.Workloads, o.Targets = splitList(workloadList), splitList(targetList)
	fs.Visit(func(f *flag.Flag) { o.TargetsGiven = o.TargetsGiven || f.Name == "targets" })
	o.GuardInterfaces = splitList(guardIfaces)
	if o.GuardInterfaces == nil {
		o.GuardInterfaces = []string{} // none, not the guard's default (every interface)
	}
	var errs []error
	if o.Rounds < 1 {
		errs = append(errs, errors.New("-rounds must be at least 1"))
	}
	if o.Retries < 0 {
		errs = append(errs, errors.New("-retries must not be negative"))
	}
	if o.Duration < time.Second {
		errs = append(errs, errors.New("-duration must be at least 1s"))
	}
	if o.GoCount < 1 {
		errs = append(errs, errors.New("-go-count must be at least 1"))
	}
	if len(o.Workloads) > 0 && len(o.Targets) == 0 {
		errs = append(errs, errors.New("-targets is empty"))
	}
	if _, err := selectWorkloads(o.Workloads); err != nil {
		errs = append(errs, err)
	}
	if _, err := selectTargets(o.Targets); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return o, err
	}
	return o, nil
}

func splitList(s string) []string {
	var out []string
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
