package rawio

import (
	"io"
	"os"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// BulkAt is the size from which a Read or Write counts as bulk.
const BulkAt = 16 << 10

// bulk is the bytes moved by bulk Reads and Writes of every Conn.
var bulk atomic.Uint64

// BulkBytes returns the bytes moved so far by the Reads and Writes of any
// Conn that moved at least BulkAt bytes in one call: result rows and COPY
// data streamed in bulk, which a statement-by-statement load never sends
// (daemon/procs sizes the scheduler by it). Smaller calls are not counted,
// so the per-statement path touches no shared counter.
func BulkBytes() uint64 { return bulk.Load() }

// Conn reads and writes a socket or file with raw read(2) and write(2)
// calls made from the runtime poller's readiness callbacks.
//
// A plain net.Conn or os.File call enters the system call through the
// scheduler (entersyscall), which on a proxy that is idle between messages
// also wakes the runtime's monitor thread nearly every time: that
// bookkeeping cost more than the read or write itself. Sockets and pipes
// are non-blocking, so the raw calls return at once; when one would block
// (EAGAIN) the callback returns false and the goroutine parks in the
// poller exactly as net.Conn does. Deadlines and Close from another
// goroutine work as for net.Conn. A regular file never returns EAGAIN; a
// raw call on it holds its P for as long as the kernel takes.
//
// One goroutine may read while another writes; reads (and writes) must not
// be concurrent with each other.
type Conn struct {
	rc syscall.RawConn

	rp   []byte
	rn   int
	rerr error
	read func(fd uintptr) bool

	wp    []byte
	wn    int
	werr  error
	write func(fd uintptr) bool
}

// New returns a Conn over sc (a *net.TCPConn, *net.UnixConn, *os.File...).
func New(sc syscall.Conn) (*Conn, error) {
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, err
	}
	c := &Conn{rc: rc}
	c.read = c.readFD
	c.write = c.writeFD
	return c, nil
}

// Wrap returns a Conn over c when c has a raw descriptor (a TCP or Unix
// socket), else c itself (TLS, in-memory pipes).
func Wrap(c io.ReadWriter) io.ReadWriter {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return c
	}
	rc, err := New(sc)
	if err != nil {
		return c
	}
	return rc
}

func (c *Conn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c.rp, c.rn, c.rerr = p, 0, nil
	err := c.rc.Read(c.read)
	c.rp = nil
	if err != nil {
		return 0, err // closed, or a deadline passed
	}
	if c.rn >= BulkAt {
		bulk.Add(uint64(c.rn))
	}
	return c.rn, c.rerr
}

func (c *Conn) readFD(fd uintptr) bool {
	for {
		n, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&c.rp[0])), uintptr(len(c.rp)))
		switch e {
		case 0:
			c.rn = int(n)
			if n == 0 {
				c.rerr = io.EOF
			}
			return true
		case syscall.EINTR:
		case syscall.EAGAIN:
			return false // park until readable
		default:
			c.rerr = os.NewSyscallError("read", e)
			return true
		}
	}
}

// Write writes all of p, waiting in the poller while the descriptor is
// not writable.
func (c *Conn) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c.wp, c.wn, c.werr = p, 0, nil
	err := c.rc.Write(c.write)
	c.wp = nil
	if c.wn >= BulkAt {
		bulk.Add(uint64(c.wn))
	}
	if err == nil {
		err = c.werr
	}
	return c.wn, err
}

func (c *Conn) writeFD(fd uintptr) bool {
	for c.wn < len(c.wp) {
		n, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&c.wp[c.wn])), uintptr(len(c.wp)-c.wn))
		switch {
		case e == syscall.EINTR:
		case e == syscall.EAGAIN:
			return false // park until writable
		case e != 0:
			c.werr = os.NewSyscallError("write", e)
			return true
		case n == 0:
			c.werr = io.ErrShortWrite
			return true
		default:
			c.wn += int(n)
		}
	}
	return true
}
