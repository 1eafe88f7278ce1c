package audit

import (
	"io"
	"os"
	"syscall"
	"time"
	"unsafe"
)

// Thresholds of rawFile's fallback to scheduler-aware writes.
const (
	slowWrite = time.Millisecond
	slowFor   = 10 * time.Second
)

// rawFile is the live audit file, appended to with raw write(2) calls.
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
// goroutines while the thread is blocked. On a pipe that is full, the
// write waits in the poller as os.File.Write does.
type rawFile struct {
	*os.File
	rc syscall.RawConn
	fn func(fd uintptr) bool

	p   []byte
	n   int
	err error

	// Times are monotonic offsets from base: one clock read each.
	base      time.Time
	slowAt    time.Duration // slowWrite; tests lower it
	slowUntil time.Duration // scheduler-aware writes until then
}

func newRawFile(f *os.File) (*rawFile, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	r := &rawFile{File: f, rc: rc, base: time.Now(), slowAt: slowWrite}
	r.fn = r.write
	return r, nil
}

// Write appends p. The Log calls it with its lock held.
func (r *rawFile) Write(p []byte) (int, error) {
	start := time.Since(r.base)
	if start < r.slowUntil {
		return r.File.Write(p)
	}
	r.p, r.n, r.err = p, 0, nil
	err := r.rc.Write(r.fn)
	r.p = nil
	if err == nil {
		err = r.err
	}
	if end := time.Since(r.base); end-start > r.slowAt {
		r.slowUntil = end + slowFor
	}
	return r.n, err
}

func (r *rawFile) write(fd uintptr) bool {
	for r.n < len(r.p) {
		n, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&r.p[r.n])), uintptr(len(r.p)-r.n))
		switch {
		case e == syscall.EINTR:
		case e == syscall.EAGAIN:
			return false // a full pipe: wait in the poller until writable
		case e != 0:
			r.err = &os.PathError{Op: "write", Path: r.Name(), Err: e}
			return true
		case n == 0:
			r.err = &os.PathError{Op: "write", Path: r.Name(), Err: io.ErrShortWrite}
			return true
		default:
			r.n += int(n)
		}
	}
	return true
}
