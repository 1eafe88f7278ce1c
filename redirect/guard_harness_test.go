package redirect

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/features"
	"github.com/cilium/ebpf/link"
	"github.com/interlock-dev/interlock/testenv"
	"golang.org/x/sys/unix"
)

// markerPath is a unix socket name every guard test protects: a connect to
// it from the test cgroup is an event the test makes on purpose, after
// which every event of an attempt before it has been read.
const markerPath = "/run/interlock-test-none/.s.marker"

// requireGuard fails the test unless the kernel has what the guard needs.
func requireGuard(tb testing.TB) {
	tb.Helper()
	requireBPF(tb)
	requireKernel(tb, "the guard needs Linux 6.7+ (connect_unix, tcx)", []kernelFeature{
		{"cgroup_skb programs", features.HaveProgramType(ebpf.CGroupSKB)},
		{"ring buffers (Linux 5.8+)", features.HaveMapType(ebpf.RingBuf)},
		{"sockopt programs", features.HaveProgramType(ebpf.CGroupSockopt)},
	})
}

// genv is a guard test's world: the redirect env, a guard, the event
// stream and SYN taps inside the "database" namespace.
type genv struct {
	*env
	r    *Redirector
	g    *Guard
	ev   *eventLog
	tap4 *tap
	tap6 *tap
}

// newGuardEnv installs redirect (db4 -> d4, db6 -> d6) and a guard with
// cfg, on the env's cgroup. Unless cfg says otherwise, tc goes nowhere and
// the kernel dedup window is off (1ns), so each attempt is one event.
func newGuardEnv(t *testing.T, cfg GuardConfig) *genv {
	t.Helper()
	e := newGuardWorld(t)
	e.install(t, cfg)
	return e
}

// newGuardWorld is the env and the taps, with nothing installed yet.
func newGuardWorld(t *testing.T) *genv {
	t.Helper()
	requireGuard(t)
	e := &genv{env: newEnv(t)}
	e.tap4 = newTap(t, e.ns, unix.AF_INET)
	e.tap6 = newTap(t, e.ns, unix.AF_INET6)
	return e
}

// install adds the redirect, its endpoints, the guard and the event log.
func (e *genv) install(t *testing.T, cfg GuardConfig) {
	t.Helper()
	e.r = e.newRedirector(t)
	setEndpoints(t, e.r, ep(host(e.ns.PeerAddr4), dbPort, e.d4.addr()), ep(host(e.ns.PeerAddr6), dbPort, e.d6.addr()))
	e.g = e.newGuard(t, cfg)
	e.ev = collectEvents(t, e.r)
}

// tapFor is the tap that sees SYNs to dst.
func (e *genv) tapFor(dst netip.AddrPort) *tap {
	if dst.Addr().Unmap().Is4() {
		return e.tap4
	}
	return e.tap6
}

// expectSYNs asserts that the database saw exactly want SYNs to dst since
// the tap counted before: a SYN from the daemon (marked, let through) is
// sent last, and once it has arrived every earlier one would have too.
func (e *genv) expectSYNs(t *testing.T, dst netip.AddrPort, before, want int64) {
	t.Helper()
	tp := e.tapFor(dst)
	c := startClient(t, clientOpts{cg: e.cg}, helperReq{Mode: "rawsyn", Addr: netip.AddrPortFrom(dst.Addr().Unmap(), dst.Port()).String(), Mark: testMark})
	if c.resp.Err != "" {
		t.Fatalf("the daemon's raw SYN: %s", c.resp.Err)
	}
	testenv.WaitFor(t, waitFor, "the daemon's SYN reaches the database", func() bool { return tp.syns.Load() >= before+want+1 })
	if got := tp.syns.Load() - before - 1; got != want {
		t.Errorf("the database saw %d SYNs besides the daemon's, want %d", got, want)
	}
}

// guardConfig fills the test defaults into cfg.
func guardConfig(cfg GuardConfig) GuardConfig {
	if cfg.Interfaces == nil {
		cfg.Interfaces = []string{}
	}
	if cfg.DedupWindow == 0 {
		cfg.DedupWindow = time.Nanosecond
	}
	cfg.UnixSockets = append(cfg.UnixSockets, markerPath)
	return cfg
}

func (e *genv) newGuard(t *testing.T, cfg GuardConfig) *Guard {
	t.Helper()
	g, err := NewGuard(context.Background(), e.r, guardConfig(cfg))
	if err != nil {
		t.Fatalf("NewGuard: %v", err)
	}
	t.Cleanup(func() {
		if err := g.Close(); err != nil {
			t.Errorf("Guard.Close: %v", err)
		}
	})
	return g
}

// eventLog reads a Redirector's events in the background.
type eventLog struct {
	ch chan Event
}

func collectEvents(t *testing.T, r *Redirector) *eventLog {
	t.Helper()
	er, err := r.Events()
	if err != nil {
		t.Fatalf("Events: %v", err)
	}
	l := &eventLog{ch: make(chan Event, 1024)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			ev, err := er.Read(ctx)
			if err != nil {
				return
			}
			l.ch <- ev
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		if err := er.Close(); err != nil {
			t.Errorf("EventReader.Close: %v", err)
		}
	})
	return l
}

// next waits for the next event.
func (l *eventLog) next(t *testing.T) Event {
	t.Helper()
	select {
	case ev := <-l.ch:
		return ev
	case <-time.After(waitFor):
		t.Fatalf("no event within %s", waitFor)
		return Event{}
	}
}

// settle makes a marker event from the test cgroup and returns every event
// that came before it: all the events of attempts made so far.
func (e *genv) settle(t *testing.T) []Event {
	t.Helper()
	c := startClient(t, clientOpts{cg: e.cg}, helperReq{Mode: "unix", Path: markerPath})
	var out []Event
	for {
		ev := e.ev.next(t)
		if ev.Kind == KindUnixSocket && ev.Path == markerPath && ev.PID == uint32(c.resp.PID) {
			return out
		}
		out = append(out, ev)
	}
}

// only asserts that events holds exactly one event and returns it.
func only(t *testing.T, events []Event) Event {
	t.Helper()
	if len(events) != 1 {
		t.Fatalf("got %d events, want exactly 1: %+v", len(events), events)
	}
	return events[0]
}

// checkEvent compares the fields of ev that the test knows.
func checkEvent(t *testing.T, ev Event, kind EventKind, action EventAction, c *client, cg *testenv.Cgroup) {
	t.Helper()
	if ev.Kind != kind || ev.Action != action {
		t.Errorf("event %s/%s, want %s/%s: %+v", ev.Kind, ev.Action, kind, action, ev)
	}
	if ev.Count != 1 {
		t.Errorf("event count %d, want 1", ev.Count)
	}
	if c != nil {
		if !ev.Known.Has(KnownPID) || ev.PID != uint32(c.resp.PID) {
			t.Errorf("event pid %d (known %v), want the client's %d", ev.PID, ev.Known.Has(KnownPID), c.resp.PID)
		}
		if ev.Comm != clientComm || ev.Exe != clientBin {
			t.Errorf("event comm %q exe %q, want %q %q", ev.Comm, ev.Exe, clientComm, clientBin)
		}
	}
	if cg != nil && (ev.CgroupID != cg.ID || ev.Cgroup != cg.Rel) {
		t.Errorf("event cgroup %d %q, want %d %q", ev.CgroupID, ev.Cgroup, cg.ID, cg.Rel)
	}
}

// tap counts TCP SYNs to dbPort arriving in a namespace (a raw socket
// there sees every TCP packet before TCP looks at it).
type tap struct {
	syns atomic.Int64
}

func newTap(t *testing.T, ns *testenv.NetNS, family int) *tap {
	t.Helper()
	var fd int
	err := ns.Do(func() error {
		var err error
		fd, err = unix.Socket(family, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_TCP)
		return err
	})
	if err != nil {
		t.Fatalf("tap socket: %v", err)
	}
	tp := &tap{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 65536)
		for {
			n, _, err := unix.Recvfrom(fd, buf, 0)
			if err != nil {
				if errors.Is(err, unix.EINTR) {
					continue
				}
				return
			}
			seg := buf[:n]
			if family == unix.AF_INET { // IPv4 raw sockets get the IP header
				if n < 20 {
					continue
				}
				seg = buf[int(buf[0]&0xf)*4 : n]
			}
			if len(seg) >= 14 && binary.BigEndian.Uint16(seg[2:]) == dbPort && seg[13]&0x12 == 0x02 {
				tp.syns.Add(1)
			}
		}
	}()
	t.Cleanup(func() {
		unix.Shutdown(fd, unix.SHUT_RDWR)
		unix.Close(fd)
		<-done
	})
	return tp
}

// detachConnectHooks removes the redirect's connect4/6 links, standing in
// for a connect the hooks missed.
func detachConnectHooks(t *testing.T, pinDir string) {
	t.Helper()
	for _, name := range []string{"connect4", "connect6"} {
		l, err := link.LoadPinnedLink(linkPinPath(pinDir, name), nil)
		if err != nil {
			t.Fatalf("open %s link: %v", name, err)
		}
		if err := retireLink(l); err != nil {
			t.Fatalf("detach %s: %v", name, err)
		}
	}
}

// peerMAC is the MAC of the namespace end of the veth, as the host's
// static neighbour entry has it.
func peerMAC(t *testing.T, ns *testenv.NetNS) string {
	t.Helper()
	var mac string
	err := ns.Do(func() error {
		ifc, err := net.InterfaceByName(ns.PeerIf)
		if err != nil {
			return err
		}
		mac = ifc.HardwareAddr.String()
		return nil
	})
	if err != nil {
		t.Fatalf("peer MAC: %v", err)
	}
	return mac
}

// tcPrograms lists the tcx egress programs on an interface.
func tcPrograms(t *testing.T, ifname string) int {
	t.Helper()
	ifc, err := net.InterfaceByName(ifname)
	if err != nil {
		t.Fatal(err)
	}
	res, err := link.QueryPrograms(link.QueryOptions{Target: ifc.Index, Attach: ebpf.AttachTCXEgress})
	if err != nil {
		t.Fatalf("query tcx programs on %s: %v", ifname, err)
	}
	return len(res.Programs)
}

func v4(ap netip.AddrPort) int {
	if ap.Addr().Is4() {
		return 4
	}
	return 6
}
