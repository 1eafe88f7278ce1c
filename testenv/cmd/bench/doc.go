// Command bench is `make bench`: side-by-side pgbench runs against
// PostgreSQL directly, pgbouncer (session mode) and interlockd, reached
// through its listener and through the eBPF redirect, with and without the
// bypass guard, plus the Go micro-benchmarks of the hot path, summarised as
// a Markdown report.
//
// The method follows shared/reference/performance.md: one throwaway cluster
// (fsync off), every target measured in the same run, at least five rounds
// whose target order rotates, per-transaction --log files for p50/p99,
// CPU per transaction from /proc, and ratios paired per round, because the
// 2-core machines are noisy and only side-by-side ratios are comparable.
//
//	bench ─┬─ testenv.StartPostgres ◄──────────────────────────────────┐
//	       ├─ workload set-up: public.wide (20 columns, 10k rows)      │
//	       ├─ testenv.StartIssuer (tokens: admins; admins+pii-readers) │
//	       ├─ pgbouncer (session, as the postgres OS user) ───────────►┤ interlock_admin
//	       ├─ test cgroup + pin dir under /sys/fs/bpf (redirect)       │
//	       ├─ bin/interlockd, in the cgroup, redirect attached there, ►┤
//	       │     protect: [PostgreSQL's address], policy data masks 3 wide columns
//	       ├─ go-relay (this binary, internal-relay) ──────────────────►┘
//	       ├─ per workload × round × target (rotated):
//	       │      target Begin (interlockd-guard: attach the guard)
//	       │      pgbench -n -T --log (redirect targets: inside the cgroup,
//	       │      to PostgreSQL's own address), or the bulk sender
//	       │      /proc/<pid>/stat before/after → proxy and PostgreSQL CPU
//	       │      target End (detach the guard, check nothing is left)
//	       ├─ Close: interlockd, redirect.Uninstall, cgroup, cluster
//	       └─ go test -bench on the hot-path packages
//
// The interlockd targets share one process, so their ratios compare the
// same interlockd reached in different ways: interlockd (listener, masked
// identity), interlockd-nomask (a pii-readers token), interlockd-redirect
// (pgbench in the cgroup dials PostgreSQL's address; the kernel sends it to
// interlockd) and interlockd-guard (the same with the guard attached for
// the run by the bench itself, on interlockd's pins).
//
// go-relay (relay.go) is the reference for the select workloads: a relay
// with interlockd's socket I/O (daemon/rawio, two goroutines a session,
// Go's poller) and no enforcement at all. go-relay/pgbouncer is what the Go
// runtime costs against pgbouncer's event loop; interlockd/go-relay is what
// identity, policy, masking and the audit chain cost on top of it.
//
// Targets and workloads are tables (targets.go, workloads.go): a new
// target is a start function returning an address to point pgbench at,
// optionally with a proxy process to measure, a hook to adjust the pgbench
// command (e.g. place it in a cgroup) and hooks around each run; a new
// workload is a set of pgbench options, optionally with a custom script, a
// set-up step, its own runner and the targets it runs on.
//
// The bench re-executes itself for code that must run in another process
// (helper.go): the bulk sender and the redirect probe, inside the cgroup,
// and the go-relay process.
// Everything it creates is removed on exit and on Ctrl-C; pins left by a
// bench that was killed are removed by the next run.
package main
