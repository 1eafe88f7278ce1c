package main

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// workload is one measured configuration, run against its targets: a
// pgbench run unless Run says otherwise.
type workload struct {
	// Name is used on the command line and in the report.
	Name string
	// Args are pgbench options other than the connection, -T, -n and --log,
	// e.g. "-S", "-M", "simple", "-c4", "-j2".
	Args []string
	// Script, when set, is written to a file passed with -f (a custom
	// transaction such as a query returning many rows).
	Script string
	// BytesPerTxn, when positive, makes the report add a throughput column
	// in MB/s (TPS × BytesPerTxn); Setup may measure it instead.
	BytesPerTxn int64
	// Setup, when set, prepares the cluster once before any target starts
	// (tables, data) and may measure the bytes a transaction reads.
	Setup func(ctx context.Context, st *stack) (setupResult, error)
	// Run replaces pgbench (e.g. a bulk transfer); it runs target t for d.
	Run func(ctx context.Context, st *stack, t *target, d time.Duration, name string) runResult
	// Command is shown instead of the pgbench command line when set.
	Command string
	// Targets, when set, are the targets this workload runs on (those of
	// them selected); otherwise every selected target that is not Optional.
	Targets []string
	// Scale is the share of -duration and -warmup each run takes (0 means
	// 1), to keep the whole default run within its time budget.
	Scale float64
	// Unit names the rate ("TPS" when empty) and Per one transaction of it
	// ("txn" when empty), e.g. "connections/s" and "conn".
	Unit, Per string
	// Default workloads run when -workloads is not given.
	Default bool
	// About is a short description for the report.
	About string
}

// setupResult is what a workload's Setup measured.
type setupResult struct {
	// BytesPerTxn overrides workload.BytesPerTxn when positive.
	BytesPerTxn int64
	// Note is added to the workload's description in the report.
	Note string
}

// workloads is the table of known workloads, in report order.
var workloads = []workload{
	{
		Name: "select-simple", Args: []string{"-S", "-M", "simple", "-c4", "-j2"}, Default: true,
		Targets: []string{targetDirect, targetPgbouncer, targetInterlockd, targetRedirect, targetGuard, targetGoRelay},
		About:   "pgbench -S, simple query protocol, 4 clients",
	},
	{
		Name: "select-prepared", Args: []string{"-S", "-M", "prepared", "-c4", "-j2"}, Default: true, Scale: 0.8,
		Targets: []string{targetDirect, targetPgbouncer, targetInterlockd, targetGoRelay},
		About:   "pgbench -S, prepared statements, 4 clients",
	},
	{
		Name: "select-latency", Args: []string{"-S", "-c1", "-j1"}, Default: true, Scale: 0.6,
		About: "pgbench -S, 1 client: latency",
	},
	{
		// pgbench -C reports "tps (including reconnection times)": each
		// transaction pays connect, startup (token check for interlockd),
		// one SELECT and Terminate.
		Name: "select-connect", Args: []string{"-S", "-C", "-c4", "-j2"}, Unit: "connections/s", Per: "conn",
		About: "pgbench -S -C, a new connection per transaction, 4 clients",
	},
	{
		Name: "wide", Args: []string{"-M", "simple", "-c2", "-j2"}, Script: wideScript, Default: true, Scale: 0.6,
		Setup:   setupWide,
		Targets: []string{targetDirect, targetPgbouncer, targetInterlockd, targetNoMask},
		About: fmt.Sprintf("wide results: every transaction reads %d rows of %d columns of mixed types; "+
			"3 of them (%s) are tagged pii and masked for the bench identity (interlockd), not for a member of pii-readers (interlockd-nomask)",
			wideRows, len(wideColumns), strings.Join(wideMaskedNames(), ", ")),
	},
	{
		// A script without SQL: pgbench -C connects at the start of each
		// transaction and sends Terminate at its end, so a transaction is
		// connect + startup (token check, upstream login) + Terminate.
		Name: "connect", Args: []string{"-C", "-c2", "-j2"}, Script: "\\set x 1\n", Default: true, Scale: 0.5,
		Unit: "connections/s", Per: "conn",
		Targets: []string{targetInterlockd, targetRedirect},
		About: "connection rate through interlockd: connect, startup with the token as password, Terminate (pgbench -C, no statement), 2 clients; " +
			"interlockd = the client connects to interlockd's listener, interlockd-redirect = it connects to PostgreSQL's own address and the eBPF redirect sends it to the same interlockd",
	},
	{
		Name: "guard-bulk", Run: runBulk, Default: true, Scale: 0.3, Unit: "MiB/s", Per: "MiB",
		Command: fmt.Sprintf("bulk TCP send, %d KiB writes, from the redirect's cgroup to an unprotected port on 127.0.0.1", bulkChunk>>10),
		Targets: []string{targetRedirect, targetGuard},
		About: "a bulk TCP transfer to an unprotected port, not through interlockd: the sender runs in the enforcement cgroup; " +
			"interlockd-redirect = the redirect's programs only, interlockd-guard = the bypass guard attached as well (cgroup_skb egress on every packet, tc egress on lo); " +
			"client CPU is the sender's",
	},
}

// commandLine is the pgbench option string shown in the report.
func (w workload) commandLine() string {
	if w.Command != "" {
		return w.Command
	}
	s := "pgbench " + strings.Join(w.Args, " ")
	if w.Script != "" {
		s += " -f " + w.Name + ".sql"
	}
	return s
}

// unit is the rate's name, per one transaction's.
func (w workload) unit() string {
	if w.Unit == "" {
		return "TPS"
	}
	return w.Unit
}

func (w workload) per() string {
	if w.Per == "" {
		return "txn"
	}
	return w.Per
}

// connects reports whether every transaction opens a connection (-C).
func (w workload) connects() bool { return slices.Contains(w.Args, "-C") }

// scaled is d times the workload's Scale in whole seconds, at least 1s;
// 0 stays 0 (no warm-up).
func (w workload) scaled(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	s := w.Scale
	if s <= 0 {
		s = 1
	}
	return max(time.Second, time.Duration(math.Round(d.Seconds()*s))*time.Second)
}

// runsOn reports whether the workload runs on the target.
func (w workload) runsOn(t targetSpec) bool {
	if len(w.Targets) > 0 {
		return slices.Contains(w.Targets, t.Name)
	}
	return !t.Optional
}

// usedTargets are the specs some workload runs on, in table order.
func usedTargets(ws []workload, specs []targetSpec) []targetSpec {
	var out []targetSpec
	for _, s := range specs {
		if slices.ContainsFunc(ws, func(w workload) bool { return w.runsOn(s) }) {
			out = append(out, s)
		}
	}
	return out
}

// defaultWorkloadNames are the names of the Default workloads.
func defaultWorkloadNames() []string {
	var out []string
	for _, w := range workloads {
		if w.Default {
			out = append(out, w.Name)
		}
	}
	return out
}

// selectWorkloads returns the named workloads in the order given.
func selectWorkloads(names []string) ([]workload, error) {
	out := make([]workload, 0, len(names))
	for _, n := range names {
		w, ok := findWorkload(n)
		if !ok {
			return nil, fmt.Errorf("unknown workload %q (known: %s)", n, strings.Join(workloadNames(), ", "))
		}
		out = append(out, w)
	}
	return out, nil
}

func findWorkload(name string) (workload, bool) {
	for _, w := range workloads {
		if w.Name == name {
			return w, true
		}
	}
	return workload{}, false
}

func workloadNames() []string {
	out := make([]string, len(workloads))
	for i, w := range workloads {
		out[i] = w.Name
	}
	return out
}
