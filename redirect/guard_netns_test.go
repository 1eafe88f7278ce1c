package redirect

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/interlock-dev/interlock/testenv"
	"golang.org/x/sys/unix"
)

// netnsCookie is the cookie of a test network namespace.
func netnsCookie(t *testing.T, ns *testenv.NetNS) uint64 {
	t.Helper()
	var c uint64
	err := ns.Do(func() error {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		c, err = unix.GetsockoptUint64(fd, unix.SOL_SOCKET, unix.SO_NETNS_COOKIE)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// A process in a second network namespace (a container) reaches the
// database over its own veth, without the host. Its connect is refused
// (the listener's loopback would be the container's own) and reported; so
// is the same with the daemon's mark set by root there, and a raw SYN.
func TestGuardForeignNetns(t *testing.T) {
	for _, mode := range []GuardMode{GuardEnforce, GuardMonitor} {
		t.Run(string(mode), func(t *testing.T) {
			e := newGuardEnv(t, GuardConfig{Mode: mode})
			ns2 := testenv.NewNetNS(t)
			testenv.LinkNetNSTB(t, e.ns, ns2)
			cookie := netnsCookie(t, ns2)
			// Whatever listens on the container's loopback at the
			// listener's port must not get the connection either.
			fake := newAcceptor(t, ns2.ListenTB(t, "tcp4", netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), e.d4.addr().Port()).String()))

			for _, c := range []struct {
				name string
				req  helperReq
				cred bool
			}{
				{"connect ipv4", helperReq{Mode: "connect", Family: 4, Addr: e.db4Addr().String()}, true},
				{"connect ipv6", helperReq{Mode: "connect", Family: 6, Addr: e.db6Addr().String()}, true},
				{"connect ipv4-mapped", helperReq{Mode: "connect", Family: 6, Addr: v4mapped(e.db4Addr()).String()}, true},
				{"fastopen", helperReq{Mode: "fastopen", Family: 4, Addr: e.db4Addr().String()}, true},
				{"daemon mark set in the namespace", helperReq{Mode: "connect", Family: 4, Addr: e.db4Addr().String(), Mark: testMark}, false},
			} {
				t.Run(c.name, func(t *testing.T) {
					c.req.Netns = ns2.Path()
					if c.cred {
						c.req.Drop, c.req.DropUID, c.req.DropGID = true, int(nobody.Uid), int(nobody.Gid)
					}
					cl := startClient(t, clientOpts{cg: e.cg}, c.req)
					if cl.resp.MarkErr != "" {
						t.Fatalf("SO_MARK as root in the namespace: %s", cl.resp.MarkErr)
					}
					if cl.resp.Err != "ECONNREFUSED" {
						t.Fatalf("%s from another netns: err %q, want ECONNREFUSED", c.req.Mode, cl.resp.Err)
					}
					ev := only(t, e.settle(t))
					checkEvent(t, ev, KindForeignNetns, ActionBlocked, cl, e.cg)
					dst := netip.MustParseAddrPort(c.req.Addr)
					if ev.NetnsCookie != cookie || ev.Destination != unmapped(dst) {
						t.Errorf("event netns %d dst %s, want %d %s", ev.NetnsCookie, ev.Destination, cookie, unmapped(dst))
					}
					if wantUID := uint32(c.req.DropUID); !ev.Known.Has(KnownUID|KnownGID) || ev.UID != wantUID {
						t.Errorf("event uid %d (known %b), want %d", ev.UID, ev.Known, wantUID)
					}
				})
			}
			for _, mark := range []uint32{0, testMark} {
				t.Run(fmt.Sprintf("raw socket mark %#x", mark), func(t *testing.T) {
					before := e.tap4.syns.Load()
					cl := startClient(t, clientOpts{cg: e.cg}, helperReq{Mode: "rawsyn", Addr: e.db4Addr().String(), Netns: ns2.Path(), Mark: mark})
					if cl.resp.MarkErr != "" {
						t.Fatalf("SO_MARK: %s", cl.resp.MarkErr)
					}
					ev := only(t, e.settle(t))
					want, action := int64(0), ActionBlocked
					if mode == GuardMonitor {
						want, action = 1, ActionDetected
					}
					checkEvent(t, ev, KindRawSocket, action, cl, e.cg)
					if ev.NetnsCookie != cookie {
						t.Errorf("event netns %d, want %d", ev.NetnsCookie, cookie)
					}
					e.expectSYNs(t, e.db4Addr(), before, want)
				})
			}
			if n := e.db4.count.Load() + e.db6.count.Load() + fake.count.Load(); n != 0 {
				t.Errorf("the database or the container's loopback saw %d connections, want 0", n)
			}
		})
	}
}

// Production attaches at the cgroup2 root, so every process is in a
// descendant: a child of the test's cgroup stands for that. A process
// outside the enforcement cgroup altogether is only seen by tc on the
// interface towards the database.
func TestGuardOtherCgroups(t *testing.T) {
	e := newGuardEnv(t, GuardConfig{Interfaces: []string{}})
	child := e.cg.NewChild(t)

	t.Run("child cgroup raw socket", func(t *testing.T) {
		before := e.tap4.syns.Load()
		cl := startClient(t, clientOpts{cg: child}, helperReq{Mode: "rawsyn", Addr: e.db4Addr().String()})
		checkEvent(t, only(t, e.settle(t)), KindRawSocket, ActionBlocked, cl, child)
		e.expectSYNs(t, e.db4Addr(), before, 0)
	})
	t.Run("child cgroup connect is redirected", func(t *testing.T) {
		cl := connect(t, clientOpts{cg: child, cred: nobody}, 4, e.db4Addr())
		if cl.resp.Err != "" {
			t.Fatalf("connect: %s", cl.resp.Err)
		}
		e.d4.accept(t)
		if evs := e.settle(t); len(evs) != 0 {
			t.Errorf("a redirected connect raised %d events: %+v", len(evs), evs)
		}
	})
	t.Run("outside, no tc: not covered", func(t *testing.T) {
		before := e.tap4.syns.Load()
		startClient(t, clientOpts{}, helperReq{Mode: "rawsyn", Addr: e.db4Addr().String()})
		if evs := e.settle(t); len(evs) != 0 {
			t.Errorf("got events for a process outside the cgroup without tc: %+v", evs)
		}
		e.expectSYNs(t, e.db4Addr(), before, 1)
	})
	t.Run("outside, tc on the interface", func(t *testing.T) {
		g2 := e.newGuard(t, GuardConfig{Interfaces: []string{e.ns.HostIf}})
		if got := g2.Status().Interfaces; len(got) != 1 || got[0] != e.ns.HostIf {
			t.Fatalf("Status().Interfaces = %v, want [%s]", got, e.ns.HostIf)
		}
		before := e.tap4.syns.Load()
		cl := startClient(t, clientOpts{}, helperReq{Mode: "rawsyn", Addr: e.db4Addr().String()})
		ev := only(t, e.settle(t))
		checkEvent(t, ev, KindTCDrop, ActionBlocked, cl, nil)
		if ev.Interface != e.ns.HostIf || !ev.Known.Has(KnownSource) || ev.Destination != e.db4Addr() {
			t.Errorf("event interface %q source known %v dst %s, want %s, a source, %s", ev.Interface, ev.Known.Has(KnownSource), ev.Destination, e.ns.HostIf, e.db4Addr())
		}
		e.expectSYNs(t, e.db4Addr(), before, 0)
		// Inside the cgroup, cgroup_skb judges: one event, not two.
		cl = startClient(t, clientOpts{cg: e.cg}, helperReq{Mode: "rawsyn", Addr: e.db4Addr().String()})
		checkEvent(t, only(t, e.settle(t)), KindRawSocket, ActionBlocked, cl, e.cg)
	})
}

// An AF_PACKET sender writes whole frames: only tc sees them. Asking to
// skip the qdisc layer (and tc with it) is refused and reported.
func TestGuardPacketSocket(t *testing.T) {
	for _, mode := range []GuardMode{GuardEnforce, GuardMonitor} {
		t.Run(string(mode), func(t *testing.T) {
			e := newGuardWorld(t)
			e.install(t, GuardConfig{Mode: mode, Interfaces: []string{e.ns.HostIf}})
			mac := peerMAC(t, e.ns)
			action, passes := ActionBlocked, int64(0)
			if mode == GuardMonitor {
				action, passes = ActionDetected, 1
			}
			req := helperReq{Mode: "packet", Addr: e.db4Addr().String(), Iface: e.ns.HostIf, DstMAC: mac}

			t.Run("frame", func(t *testing.T) {
				before := e.tap4.syns.Load()
				cl := startClient(t, clientOpts{cg: e.cg}, req)
				ev := only(t, e.settle(t))
				checkEvent(t, ev, KindTCDrop, action, cl, e.cg)
				if ev.SocketInode != uint32(cl.resp.Inode) || ev.Interface != e.ns.HostIf {
					t.Errorf("event inode %d interface %q, want %d %s", ev.SocketInode, ev.Interface, cl.resp.Inode, e.ns.HostIf)
				}
				e.expectSYNs(t, e.db4Addr(), before, passes)
			})
			t.Run("qdisc bypass", func(t *testing.T) {
				before := e.tap4.syns.Load()
				r := req
				r.Bypass = true
				cl := startClient(t, clientOpts{cg: e.cg}, r)
				events := e.settle(t)
				if mode == GuardEnforce {
					if cl.resp.BypassErr != "EPERM" {
						t.Errorf("PACKET_QDISC_BYPASS: %q, want EPERM", cl.resp.BypassErr)
					}
					// Refused, so the frame still went through tc.
					if len(events) != 2 {
						t.Fatalf("got %d events, want packet_bypass and tc_drop: %+v", len(events), events)
					}
					checkEvent(t, events[0], KindPacketBypass, ActionBlocked, cl, e.cg)
					checkEvent(t, events[1], KindTCDrop, ActionBlocked, cl, e.cg)
				} else {
					if cl.resp.BypassErr != "" {
						t.Errorf("PACKET_QDISC_BYPASS in monitor mode: %s", cl.resp.BypassErr)
					}
					// Allowed, so the frame skipped tc: only the setsockopt is seen.
					checkEvent(t, only(t, events), KindPacketBypass, ActionDetected, cl, e.cg)
				}
				e.expectSYNs(t, e.db4Addr(), before, passes)
			})
		})
	}
}
