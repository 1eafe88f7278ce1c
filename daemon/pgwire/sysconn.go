package pgwire

import (
	"io"
	"net"
	"os"
	"syscall"
	"unsafe"
)

// sysConn reads and writes a socket with raw read(2) and write(2) calls
// made from the runtime poller's readiness callbacks (syscall.RawConn).
//
// A plain net.Conn call enters the system call through the scheduler
// (entersyscall/exitsyscall), which on a proxy that is idle between
// messages also wakes the runtime's monitor thread nearly every time: that
// bookkeeping cost more than the read or write itself. The socket is
// non-blocking, so the raw calls return at once; when one would block
// (EAGAIN) the callback returns false and the goroutine parks in the
// poller exactly as net.Conn does. Deadlines and Close from another
// goroutine work as for net.Conn.
//
// One goroutine may read while another writes; reads (and writes) must not
// be concurrent with each other.
type sysConn struct {
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

// SysConn returns c's raw-system-call reader and writer when c is a socket
// (TCP or Unix), else c itself (TLS, pipes).
func SysConn(c net.Conn) io.ReadWriter {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return c
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return c
	}
	s := &sysConn{rc: rc}
	s.read = s.readFD
	s.write = s.writeFD
	return s
}

func (s *sysConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	s.rp, s.rn, s.rerr = p, 0, nil
	err := s.rc.Read(s.read)
	s.rp = nil
	if err != nil {
		return 0, err // closed, or a deadline passed
	}
	return s.rn, s.rerr
}

func (s *sysConn) readFD(fd uintptr) bool {
	for {
		n, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&s.rp[0])), uintptr(len(s.rp)))
		switch e {
		case 0:
			s.rn = int(n)
			if n == 0 {
				s.rerr = io.EOF
			}
			return true
		case syscall.EINTR:
		case syscall.EAGAIN:
			return false // park until readable
		default:
			s.rerr = os.NewSyscallError("read", e)
			return true
		}
	}
}

func (s *sysConn) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	s.wp, s.wn, s.werr = p, 0, nil
	err := s.rc.Write(s.write)
	s.wp = nil
	if err == nil {
		err = s.werr
	}
	return s.wn, err
}

func (s *sysConn) writeFD(fd uintptr) bool {
	for s.wn < len(s.wp) {
		n, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&s.wp[s.wn])), uintptr(len(s.wp)-s.wn))
		switch e {
		case 0:
			s.wn += int(n)
		case syscall.EINTR:
		case syscall.EAGAIN:
			return false // park until writable
		default:
			s.werr = os.NewSyscallError("write", e)
			return true
		}
	}
	return true
}
