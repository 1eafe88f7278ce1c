// Command bench is `make bench`: side-by-side pgbench runs against
// PostgreSQL directly, pgbouncer (session mode) and interlockd, plus the Go
// micro-benchmarks of the hot path, summarised as a Markdown report.
//
// The method follows shared/reference/performance.md: one throwaway cluster
// (fsync off), every target measured in the same run, at least five rounds
// whose target order rotates, per-transaction --log files for p50/p99,
// CPU per transaction from /proc, and ratios paired per round, because the
// 2-core machines are noisy and only side-by-side ratios are comparable.
//
//	bench ─┬─ testenv.StartPostgres ◄──────────────────────────────┐
//	       ├─ testenv.StartIssuer (token for interlockd)           │
//	       ├─ pgbouncer (session, as the postgres OS user) ───────►┤ interlock_admin
//	       ├─ bin/interlockd (groups admins → interlock_admin) ───►┘
//	       ├─ per workload × round × target (rotated): pgbench -n -T --log
//	       │      /proc/<pid>/stat before/after → proxy and PostgreSQL CPU
//	       └─ go test -bench on the hot-path packages
//
// Targets and workloads are tables (targets.go, workloads.go): a new
// target is a start function returning an address to point pgbench at,
// optionally with a proxy process to measure and a hook to adjust the
// pgbench command (e.g. place it in a cgroup for the eBPF redirect); a new
// workload is a set of pgbench options, optionally with a custom script.
package main
