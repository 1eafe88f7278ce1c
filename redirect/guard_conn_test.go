package redirect

import (
	"errors"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Connections established before the redirect and guard existed are found
// at start: destroyed in enforce mode, left alone in monitor mode, and one
// event each names the process. The daemon's own (marked) connection is not
// touched.
func TestGuardSweepsExistingConnections(t *testing.T) {
	for _, mode := range []GuardMode{GuardEnforce, GuardMonitor} {
		t.Run(string(mode), func(t *testing.T) {
			e := newGuardWorld(t)
			type conn struct {
				family int
				dst    netip.AddrPort
				db     *acceptor
			}
			conns := []conn{{4, e.db4Addr(), e.db4}, {6, e.db6Addr(), e.db6}, {6, v4mapped(e.db4Addr()), e.db4}}
			var (
				clients []*client
				dbSide  []syscall.Conn
			)
			for _, c := range conns {
				cl := connect(t, clientOpts{cg: e.cg, cred: other}, c.family, c.dst)
				if cl.resp.Err != "" {
					t.Fatalf("connect %s before the redirect: %s", c.dst, cl.resp.Err)
				}
				clients = append(clients, cl)
				dbSide = append(dbSide, c.db.accept(t).(syscall.Conn))
			}
			// A root process's connection is swept like any other.
			connect(t, clientOpts{cg: e.cg}, 4, e.db4Addr())
			e.db4.accept(t)
			// The daemon's connection carries the mark from the start.
			marked := startClient(t, clientOpts{cg: e.cg}, helperReq{Mode: "connect", Family: 4, Addr: e.db4Addr().String(), Mark: testMark})
			markedDB := e.db4.accept(t)
			_ = marked

			e.install(t, GuardConfig{Mode: mode})

			action := ActionBlocked
			if mode == GuardMonitor {
				action = ActionDetected
			}
			events := e.settle(t)
			if len(events) != len(conns)+1 {
				t.Fatalf("got %d events, want %d: %+v", len(events), len(conns)+1, events)
			}
			for i, cl := range clients {
				var ev *Event
				for j := range events {
					if events[j].PID == uint32(cl.resp.PID) {
						ev = &events[j]
					}
				}
				if ev == nil {
					t.Fatalf("no event for the client of %s (pid %d): %+v", conns[i].dst, cl.resp.PID, events)
				}
				checkEvent(t, *ev, KindPreexisting, action, cl, e.cg)
				if ev.UID != other.Uid || ev.Source != unmapped(netip.MustParseAddrPort(cl.resp.Local)) || ev.Destination != unmapped(conns[i].dst) {
					t.Errorf("event uid %d %s -> %s, want %d %s -> %s", ev.UID, ev.Source, ev.Destination, other.Uid, cl.resp.Local, conns[i].dst)
				}
				reset := readReset(t, dbSide[i])
				if mode == GuardEnforce && !reset {
					t.Errorf("connection to %s survived the sweep", conns[i].dst)
				}
				if mode == GuardMonitor && reset {
					t.Errorf("connection to %s was reset in monitor mode", conns[i].dst)
				}
			}
			if readReset(t, markedDB.(syscall.Conn)) {
				t.Error("the daemon's marked connection was reset")
			}
		})
	}
}

// readReset reports whether the connection was reset by its peer, without
// waiting: a connection that is still up has nothing to read.
func readReset(t *testing.T, c syscall.Conn) bool {
	t.Helper()
	raw, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var rerr error
	deadline := time.Now().Add(waitFor)
	for {
		if err := raw.Read(func(fd uintptr) bool {
			_, _, rerr = unix.Recvfrom(int(fd), make([]byte, 1), unix.MSG_DONTWAIT|unix.MSG_PEEK)
			return true
		}); err != nil {
			t.Fatal(err)
		}
		switch {
		case errors.Is(rerr, unix.EAGAIN):
			return false
		case errors.Is(rerr, unix.ECONNRESET):
			return true
		case time.Now().After(deadline):
			t.Fatalf("peek: %v", rerr)
		}
		time.Sleep(5 * time.Millisecond) // poll: EINTR or a late reset
	}
}

// A TCP connect the hooks did not redirect (here: the hooks are detached)
// is stopped at its first SYN, TCP Fast Open included, IPv4, IPv6 and
// IPv4-mapped.
func TestGuardConnectHooksMissed(t *testing.T) {
	e := newGuardEnv(t, GuardConfig{})
	detachConnectHooks(t, e.pinDir)
	for _, mode := range []string{"connect", "fastopen"} {
		for _, c := range []struct {
			family int
			dst    netip.AddrPort
		}{{4, e.db4Addr()}, {6, e.db6Addr()}, {6, v4mapped(e.db4Addr())}} {
			t.Run(mode+"/"+c.dst.String(), func(t *testing.T) {
				before := e.tapFor(c.dst).syns.Load()
				cl := startClient(t, clientOpts{cg: e.cg, cred: nobody}, helperReq{Mode: mode, Family: c.family, Addr: c.dst.String(), TimeoutMS: 300})
				if cl.resp.Err == "" {
					t.Fatalf("%s to %s succeeded past the guard", mode, c.dst)
				}
				events := e.settle(t)
				// The client ends its SYN retransmits before the next case.
				cl.close()
				if len(events) == 0 {
					t.Fatal("no event")
				}
				ev := events[0]
				checkEvent(t, ev, KindGuardDrop, ActionBlocked, cl, e.cg)
				// A slow run may see the SYN's retransmit too: the same attempt.
				for _, r := range events[1:] {
					if r.Kind != KindGuardDrop || r.SocketCookie != ev.SocketCookie {
						t.Errorf("event from another socket or kind: %+v", r)
					}
				}
				if ev.UID != nobody.Uid || ev.Destination != unmapped(c.dst) || ev.SocketType != unix.SOCK_STREAM {
					t.Errorf("event uid %d dst %s type %d, want %d %s stream", ev.UID, ev.Destination, ev.SocketType, nobody.Uid, c.dst)
				}
				e.expectSYNs(t, c.dst, before, 0)
			})
		}
	}
}
