package redirect

import (
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"
)

// acceptor is a TCP listener that accepts in the background and counts.
type acceptor struct {
	ln    net.Listener
	conns chan net.Conn
	count atomic.Int64
}

func newAcceptor(tb testing.TB, ln net.Listener) *acceptor {
	a := &acceptor{ln: ln, conns: make(chan net.Conn, 64)}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			a.count.Add(1)
			select {
			case a.conns <- c:
			default:
				c.Close()
			}
		}
	}()
	tb.Cleanup(func() {
		ln.Close()
		for {
			select {
			case c := <-a.conns:
				c.Close()
			default:
				return
			}
		}
	})
	return a
}

// listenLocal is a stand-in for an interlockd listener on loopback.
func listenLocal(tb testing.TB, network, addr string) *acceptor {
	tb.Helper()
	ln, err := net.Listen(network, addr)
	if err != nil {
		tb.Fatalf("listen: %v", err)
	}
	return newAcceptor(tb, ln)
}

func (a *acceptor) addr() netip.AddrPort {
	return a.ln.Addr().(*net.TCPAddr).AddrPort()
}

// accept waits for the next accepted connection.
func (a *acceptor) accept(tb testing.TB) net.Conn {
	tb.Helper()
	select {
	case c := <-a.conns:
		tb.Cleanup(func() { c.Close() })
		return c
	case <-time.After(waitFor):
		tb.Fatalf("%s accepted nothing within %s", a.addr(), waitFor)
		return nil
	}
}

// directDial connects from the test process (outside the test cgroup).
func directDial(t *testing.T, dst netip.AddrPort) {
	t.Helper()
	c, err := net.DialTimeout("tcp", dst.String(), waitFor)
	if err != nil {
		t.Fatalf("direct dial %s: %v", dst, err)
	}
	c.Close()
}

// waitCount polls until a has accepted want connections.
func waitCount(t *testing.T, a *acceptor, want int64) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for a.count.Load() < want {
		if time.Now().After(deadline) {
			t.Fatalf("%s accepted %d connections, want %d", a.addr(), a.count.Load(), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got := a.count.Load(); got != want {
		t.Fatalf("%s accepted %d connections, want %d", a.addr(), got, want)
	}
}
