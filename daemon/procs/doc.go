// Package procs sizes the Go scheduler (GOMAXPROCS) to the CPU interlockd
// actually uses. It starts at one P and adds one while the daemon keeps
// the ones it has busy, up to the runtime's own default, and gives them
// back when the load falls.
//
// On a host whose cores the proxy shares with its clients and often the
// database, every P beyond what the load needs costs: a goroutine made
// runnable on an idle P wakes a thread (futex), idle threads spin looking
// for work, and goroutines that talk to each other run on different cores
// with cold caches. On the bench's two cores, one P instead of two cut the
// proxy's CPU per transaction by 2–5 µs on pgbench's select-only load
// (about a fifth), while a masked bulk result ran about a tenth slower on
// one: its sessions stream in parallel while using under half a CPU. So
// the daemon runs it only with limits.adaptive_cpus.
package procs
