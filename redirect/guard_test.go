package redirect

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// A raw socket builds its own TCP SYN: no connect hook sees it. The guard
// drops it (enforce) or lets it through (monitor), with one event naming
// the process either way.
func TestGuardRawSocket(t *testing.T) {
	for _, mode := range []GuardMode{GuardEnforce, GuardMonitor} {
		t.Run(string(mode), func(t *testing.T) {
			e := newGuardEnv(t, GuardConfig{Mode: mode})
			for _, dst := range []netip.AddrPort{e.db4Addr(), e.db6Addr()} {
				t.Run(dst.String(), func(t *testing.T) {
					before := e.tapFor(dst).syns.Load()
					c := startClient(t, clientOpts{cg: e.cg}, helperReq{Mode: "rawsyn", Addr: dst.String()})
					ev := only(t, e.settle(t))
					want, action := int64(0), ActionBlocked
					if mode == GuardMonitor {
						want, action = 1, ActionDetected
					}
					if mode == GuardEnforce && c.resp.Err != "EPERM" {
						t.Errorf("sendto: %q, want EPERM", c.resp.Err)
					}
					if mode == GuardMonitor && c.resp.Err != "" {
						t.Errorf("sendto in monitor mode: %s", c.resp.Err)
					}
					checkEvent(t, ev, KindRawSocket, action, c, e.cg)
					if ev.Destination != dst || ev.SocketType != unix.SOCK_RAW || ev.SocketInode != uint32(c.resp.Inode) {
						t.Errorf("event dst %s type %d inode %d, want %s raw %d", ev.Destination, ev.SocketType, ev.SocketInode, dst, c.resp.Inode)
					}
					if !ev.Known.Has(KnownUID|KnownCgroup|KnownNetns) || ev.UID != 0 || ev.NetnsCookie != hostNetnsCookie(t) {
						t.Errorf("event uid %d netns %d known %b, want root in the host netns", ev.UID, ev.NetnsCookie, ev.Known)
					}
					e.expectSYNs(t, dst, before, want)
				})
			}
		})
	}
}

// Monitor first, then enforce, without reattaching.
func TestGuardSetMode(t *testing.T) {
	e := newGuardEnv(t, GuardConfig{Mode: GuardMonitor})
	dst := e.db4Addr()
	steps := []struct {
		mode   GuardMode
		action EventAction
		errno  string
		syns   int64
	}{
		{GuardMonitor, ActionDetected, "", 1},
		{GuardEnforce, ActionBlocked, "EPERM", 0},
		{GuardMonitor, ActionDetected, "", 1},
	}
	for _, s := range steps {
		if err := e.g.SetMode(context.Background(), s.mode); err != nil {
			t.Fatalf("SetMode(%s): %v", s.mode, err)
		}
		if got := e.g.Status().Mode; got != s.mode {
			t.Errorf("Status().Mode = %s, want %s", got, s.mode)
		}
		before := e.tap4.syns.Load()
		c := startClient(t, clientOpts{cg: e.cg}, helperReq{Mode: "rawsyn", Addr: dst.String()})
		if c.resp.Err != s.errno {
			t.Errorf("%s: sendto %q, want %q", s.mode, c.resp.Err, s.errno)
		}
		checkEvent(t, only(t, e.settle(t)), KindRawSocket, s.action, c, e.cg)
		e.expectSYNs(t, dst, before, s.syns)
	}
}

// Repeats from one source inside the dedup window become one event now and
// one with the rest of the count once the window has passed.
func TestGuardDedup(t *testing.T) {
	const n = 50
	window := 300 * time.Millisecond
	e := newGuardEnv(t, GuardConfig{DedupWindow: window})
	start := time.Now()
	c := startClient(t, clientOpts{cg: e.cg}, helperReq{Mode: "rawsyn", Addr: e.db4Addr().String(), N: n})
	first := e.ev.next(t)
	checkEvent(t, first, KindRawSocket, ActionBlocked, c, e.cg)
	rest := e.ev.next(t)
	if rest.Kind != KindRawSocket || rest.PID != first.PID || rest.CgroupID != first.CgroupID {
		t.Errorf("flushed event %+v, want the same source as %+v", rest, first)
	}
	if first.Count+rest.Count != n {
		t.Errorf("counts %d + %d, want %d attempts in all", first.Count, rest.Count, n)
	}
	if d := time.Since(start); d < window {
		t.Errorf("the rest came after %s, before the %s window ended", d, window)
	}
	st, err := e.r.KernelStats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Deduped < n-1 || st.Lost != 0 {
		t.Errorf("KernelStats = %+v, want >= %d deduped and none lost", st, n-1)
	}
}

// interlockd's own traffic (marked sockets), redirected connections and
// traffic to unprotected ports pass and raise nothing, with tc on the
// database's interface too.
func TestGuardNoFalsePositives(t *testing.T) {
	e := newGuardWorld(t)
	db5433 := newAcceptor(t, e.ns.ListenTB(t, "tcp4", netip.AddrPortFrom(e.ns.PeerAddr4, 5433).String()))
	e.install(t, GuardConfig{Interfaces: []string{e.ns.HostIf}})

	// The daemon's upstream connections, in and outside the cgroup.
	for _, o := range []clientOpts{{cg: e.cg}, {}} {
		for _, c := range []struct {
			db  *acceptor
			dst netip.AddrPort
		}{{e.db4, e.db4Addr()}, {e.db6, e.db6Addr()}} {
			n := c.db.count.Load()
			cl := startClient(t, o, helperReq{Mode: "connect", Family: v4(c.dst), Addr: c.dst.String(), Mark: testMark})
			if cl.resp.Err != "" {
				t.Fatalf("daemon connect to %s: %s", c.dst, cl.resp.Err)
			}
			waitCount(t, c.db, n+1)
		}
	}
	// An unprotected port, from the cgroup, unprivileged.
	if c := connect(t, clientOpts{cg: e.cg, cred: nobody}, 4, netip.AddrPortFrom(e.ns.PeerAddr4, 5433)); c.resp.Err != "" {
		t.Fatalf("connect to an unprotected port: %s", c.resp.Err)
	}
	waitCount(t, db5433, 1)
	// A redirected connection.
	if c := connect(t, clientOpts{cg: e.cg, cred: nobody}, 4, e.db4Addr()); c.resp.Err != "" {
		t.Fatalf("redirected connect: %s", c.resp.Err)
	}
	e.d4.accept(t)
	// The daemon's raw SYN (expectSYNs sends one and waits for it).
	e.expectSYNs(t, e.db4Addr(), e.tap4.syns.Load(), 0)

	if evs := e.settle(t); len(evs) != 0 {
		t.Errorf("got %d events for legitimate traffic, want none: %+v", len(evs), evs)
	}
}
