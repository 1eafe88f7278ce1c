package audit

import (
	"os"
	"time"

	"github.com/interlock-dev/interlock/daemon/rawio"
)

// Thresholds of rawFile's fallback to scheduler-aware writes.
//
// slowWrite is well above what a write waits when its thread is merely
// preempted: on two cores shared with the database and its clients, the
// kernel took the CPU from a thread inside write(2) (at cond_resched) about
// a hundred times a second in the bench, for 1 to 7 ms each, most often
// just after a write-out. That thread waits for a CPU, not for the disk,
// and a fallback would only bring back the monitor thread's wake-ups for
// slowFor. A write the disk holds up waits in the kernel's dirty-page
// throttling, which pauses a writer for tens to hundreds of milliseconds.
const (
	slowWrite = 20 * time.Millisecond
	slowFor   = 10 * time.Second
)

// rawFile is the live audit file, appended to with raw write(2) calls
// (rawio.Conn).
//
// os.File.Write enters the system call through the scheduler
// (entersyscall). When every P had been idle, as on a proxy waiting for
// its database between statements, that wakes the runtime's monitor
// thread, which then polls every 20 µs for a millisecond: more context
// switches than the proxy's own work on a select-only load. A write to the
// page cache returns in microseconds, so it is made as a raw call, holding
// its P like any short computation.
//
// A write that took over slowWrite (a disk under writeback pressure)
// switches to os.File.Write for slowFor, which hands the P to other
// goroutines while the thread is blocked. A shorter stall holds the P; the
// other P keeps running goroutines, and those that want the Log's lock
// would wait for this write either way.
type rawFile struct {
	*os.File
	raw *rawio.Conn

	// Times are monotonic offsets from base: one clock read each.
	base      time.Time
	slowAt    time.Duration // slowWrite; tests lower it
	slowUntil time.Duration // scheduler-aware writes until then
}

func newRawFile(f *os.File) (*rawFile, error) {
	raw, err := rawio.New(f)
	if err != nil {
		return nil, err
	}
	return &rawFile{File: f, raw: raw, base: time.Now(), slowAt: slowWrite}, nil
}

// Write appends p. The Log calls it with its lock held.
func (r *rawFile) Write(p []byte) (int, error) {
	start := time.Since(r.base)
	if start < r.slowUntil {
		return r.File.Write(p)
	}
	n, err := r.raw.Write(p)
	if end := time.Since(r.base); end-start > r.slowAt {
		r.slowUntil = end + slowFor
	}
	if err != nil {
		err = &os.PathError{Op: "write", Path: r.Name(), Err: err}
	}
	return n, err
}
