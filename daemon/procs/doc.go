// Package procs sizes the Go scheduler (GOMAXPROCS) to the load
// interlockd actually carries. It starts at one P and adds one while the
// daemon keeps the ones it has busy, up to the runtime's own default, and
// gives them back when the load falls. While results stream in bulk
// (rawio.BulkBytes at BulkRate or more) it keeps at least two.
//
// On a host whose cores the proxy shares with its clients and often the
// database, every P beyond what the load needs costs: a goroutine made
// runnable on an idle P wakes a thread (futex), idle threads spin looking
// for work, and goroutines that talk to each other run on different cores
// with cold caches. On the bench's two cores, one P instead of two cut the
// proxy's CPU per transaction by 2–5 µs on pgbench's select-only load
// (about a fifth). A masked bulk result, on the other hand, ran about a
// tenth slower on one P than on two although it used under half a CPU:
// its sessions stream at the same time, and on one P they take turns. CPU
// time alone cannot tell that load apart, so the bytes moved in bulk
// count too.
package procs
