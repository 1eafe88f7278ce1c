package redirect

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"syscall"
	"testing"

	"github.com/interlock-dev/interlock/testenv"
)

var (
	nobody = &syscall.Credential{Uid: 65534, Gid: 65534}
	other  = &syscall.Credential{Uid: 4242, Gid: 4343}
)

func v4mapped(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom16(ap.Addr().As16()), ap.Port())
}

func host(a netip.Addr) netip.Prefix { return netip.PrefixFrom(a, a.BitLen()) }

func addrPort(c net.Addr) netip.AddrPort { return c.(*net.TCPAddr).AddrPort() }

func unmapped(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

func TestRedirectOrigin(t *testing.T) {
	e := newEnv(t)
	r := e.newRedirector(t)
	// Nothing listens at [PeerAddr6]:5433; it is redirected to the IPv4 daemon.
	db6to4 := netip.AddrPortFrom(e.ns.PeerAddr6, 5433)
	setEndpoints(t, r,
		ep(host(e.ns.PeerAddr4), dbPort, e.d4.addr()),
		ep(host(e.ns.PeerAddr6), dbPort, e.d6.addr()),
		ep(host(e.ns.PeerAddr6), db6to4.Port(), e.d4.addr()),
	)
	cookie := hostNetnsCookie(t)

	tests := []struct {
		name    string
		family  int
		dial    netip.AddrPort
		cred    *syscall.Credential
		daemon  *acceptor
		wantDst netip.AddrPort
	}{
		{"ipv4 as root", 4, e.db4Addr(), nil, e.d4, e.db4Addr()},
		{"ipv4 as nobody", 4, e.db4Addr(), nobody, e.d4, e.db4Addr()},
		{"ipv6 as 4242", 6, e.db6Addr(), other, e.d6, e.db6Addr()},
		{"ipv4-mapped as nobody", 6, v4mapped(e.db4Addr()), nobody, e.d4, e.db4Addr()},
		{"ipv4-mapped as 4242", 6, v4mapped(e.db4Addr()), other, e.d4, e.db4Addr()},
		{"ipv6 to an ipv4 listener", 6, db6to4, nobody, e.d4, db6to4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := connect(t, clientOpts{cg: e.cg, cred: tt.cred}, tt.family, tt.dial)
			if c.resp.Err != "" {
				t.Fatalf("connect %s: %s", tt.dial, c.resp.Err)
			}
			if c.resp.Peer != tt.dial.String() {
				t.Errorf("getpeername = %s, want the original destination %s", c.resp.Peer, tt.dial)
			}
			conn := tt.daemon.accept(t)
			client, listener := addrPort(conn.RemoteAddr()), addrPort(conn.LocalAddr())
			if want := netip.MustParseAddrPort(c.resp.Local); unmapped(client) != unmapped(want) {
				t.Fatalf("daemon accepted %s, client is %s", client, want)
			}
			o, err := r.Origin(context.Background(), client, listener)
			if err != nil {
				t.Fatalf("Origin: %v", err)
			}
			t.Logf("origin of %s -> %s: %+v", client, listener, o)
			wantUID, wantGID := uint32(0), uint32(0)
			if tt.cred != nil {
				wantUID, wantGID = tt.cred.Uid, tt.cred.Gid
			}
			checks := []struct {
				field     string
				got, want any
			}{
				{"PID", o.PID, uint32(c.resp.PID)},
				{"UID", o.UID, wantUID},
				{"GID", o.GID, wantGID},
				{"Comm", o.Comm, clientComm},
				{"Exe", o.Exe, clientBin},
				{"CgroupID", o.CgroupID, e.cg.ID},
				{"Cgroup", o.Cgroup, e.cg.Rel},
				{"NetnsCookie", o.NetnsCookie, cookie},
				{"OriginalDst", o.OriginalDst, tt.wantDst},
			}
			for _, ck := range checks {
				if ck.got != ck.want {
					t.Errorf("Origin.%s = %v, want %v", ck.field, ck.got, ck.want)
				}
			}
			if !slices.Equal(o.Cmdline, []string{clientBin}) {
				t.Errorf("Origin.Cmdline = %q, want [%s]", o.Cmdline, clientBin)
			}
		})
	}
	if n := e.db4.count.Load() + e.db6.count.Load(); n != 0 {
		t.Errorf("the real endpoints saw %d connections, want 0", n)
	}
}

func TestFailClosedWithoutListener(t *testing.T) {
	e := newEnv(t)
	r := e.newRedirector(t)
	// Listeners that existed once: nothing listens there now.
	dead4, dead6 := listenLocal(t, "tcp4", "127.0.0.1:0"), listenLocal(t, "tcp6", "[::1]:0")
	dead4.ln.Close()
	dead6.ln.Close()
	setEndpoints(t, r,
		ep(host(e.ns.PeerAddr4), dbPort, dead4.addr()),
		ep(host(e.ns.PeerAddr6), dbPort, dead6.addr()),
	)
	tests := []struct {
		name   string
		family int
		dial   netip.AddrPort
		db     *acceptor
		direct netip.AddrPort
	}{
		{"ipv4", 4, e.db4Addr(), e.db4, e.db4Addr()},
		{"ipv6", 6, e.db6Addr(), e.db6, e.db6Addr()},
		{"ipv4-mapped", 6, v4mapped(e.db4Addr()), e.db4, e.db4Addr()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := tt.db.count.Load()
			c := connect(t, clientOpts{cg: e.cg, cred: nobody}, tt.family, tt.dial)
			if c.resp.Err != "ECONNREFUSED" {
				t.Fatalf("connect %s with no daemon: err %q, want ECONNREFUSED", tt.dial, c.resp.Err)
			}
			if got := tt.db.count.Load(); got != before {
				t.Fatalf("the real endpoint saw %d connections, want none", got-before)
			}
			// The endpoint is up: a connect from outside the cgroup reaches it.
			directDial(t, tt.direct)
			waitCount(t, tt.db, before+1)
		})
	}
}

func TestOutsideCgroupUnaffected(t *testing.T) {
	e := newEnv(t)
	r := e.newRedirector(t)
	setEndpoints(t, r, ep(host(e.ns.PeerAddr4), dbPort, e.d4.addr()))

	c := connect(t, clientOpts{cred: nobody}, 4, e.db4Addr())
	if c.resp.Err != "" || c.resp.Peer != e.db4Addr().String() {
		t.Fatalf("client outside the cgroup: err %q peer %s, want a direct connection to %s", c.resp.Err, c.resp.Peer, e.db4Addr())
	}
	waitCount(t, e.db4, 1)

	c = connect(t, clientOpts{cg: e.cg, cred: nobody}, 4, e.db4Addr())
	if c.resp.Err != "" {
		t.Fatalf("client in the cgroup: %s", c.resp.Err)
	}
	e.d4.accept(t)
	if got := e.db4.count.Load(); got != 1 {
		t.Errorf("endpoint saw %d connections, want only the one from outside", got)
	}
}

func TestDaemonMarkIsNotRedirected(t *testing.T) {
	e := newEnv(t)
	r := e.newRedirector(t)
	setEndpoints(t, r, ep(host(e.ns.PeerAddr4), dbPort, e.d4.addr()))

	tests := []struct {
		name        string
		cred        *syscall.Credential
		mark        uint32
		wantMarkErr string
		redirected  bool
	}{
		{"daemon mark", nil, testMark, "", false},
		{"other mark", nil, testMark + 1, "", true},
		{"unprivileged cannot set the mark", nobody, testMark, "EPERM", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, d := e.db4.count.Load(), e.d4.count.Load()
			c := startClient(t, clientOpts{cg: e.cg, cred: tt.cred},
				helperReq{Mode: "connect", Family: 4, Addr: e.db4Addr().String(), Mark: tt.mark})
			if c.resp.MarkErr != tt.wantMarkErr {
				t.Fatalf("SO_MARK error %q, want %q", c.resp.MarkErr, tt.wantMarkErr)
			}
			if c.resp.Err != "" {
				t.Fatalf("connect: %s", c.resp.Err)
			}
			if tt.redirected {
				waitCount(t, e.d4, d+1)
				waitCount(t, e.db4, db)
			} else {
				waitCount(t, e.db4, db+1)
				waitCount(t, e.d4, d)
			}
		})
	}
}

func TestLiveEndpoints(t *testing.T) {
	e := newEnv(t)
	r := e.newRedirector(t)
	d4b := listenLocal(t, "tcp4", "127.0.0.1:0")
	db5433 := newAcceptor(t, e.ns.ListenTB(t, "tcp4", netip.AddrPortFrom(e.ns.PeerAddr4, 5433).String()))
	at5433 := netip.AddrPortFrom(e.ns.PeerAddr4, 5433)
	opts := clientOpts{cg: e.cg, cred: nobody}

	steps := []struct {
		name string
		eps  []Endpoint
		dial netip.AddrPort
		want *acceptor // who must get the connection
	}{
		{"none: direct", nil, e.db4Addr(), e.db4},
		{"add", []Endpoint{ep(host(e.ns.PeerAddr4), dbPort, e.d4.addr())}, e.db4Addr(), e.d4},
		{"change listener", []Endpoint{ep(host(e.ns.PeerAddr4), dbPort, d4b.addr())}, e.db4Addr(), d4b},
		{"other port stays direct", []Endpoint{ep(host(e.ns.PeerAddr4), dbPort, d4b.addr())}, at5433, db5433},
		{"add second endpoint", []Endpoint{
			ep(host(e.ns.PeerAddr4), dbPort, d4b.addr()),
			ep(host(e.ns.PeerAddr4), 5433, e.d4.addr()),
		}, at5433, e.d4},
		{"cidr", []Endpoint{ep(e.ns.Prefix4, dbPort, e.d4.addr())}, e.db4Addr(), e.d4},
		{"removed port is direct again", []Endpoint{ep(e.ns.Prefix4, dbPort, e.d4.addr())}, at5433, db5433},
		{"remove all", nil, e.db4Addr(), e.db4},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			setEndpoints(t, r, s.eps...)
			got, err := r.Endpoints(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(s.eps) {
				t.Fatalf("Endpoints() = %v, want %v", got, s.eps)
			}
			for _, want := range s.eps {
				if !slices.Contains(got, want) {
					t.Errorf("Endpoints() = %v, missing %v", got, want)
				}
			}
			all := []*acceptor{e.db4, e.d4, d4b, db5433}
			before := make([]int64, len(all))
			for i, a := range all {
				before[i] = a.count.Load()
			}
			c := connect(t, opts, 4, s.dial)
			if c.resp.Err != "" {
				t.Fatalf("connect %s: %s", s.dial, c.resp.Err)
			}
			for i, a := range all {
				want := before[i]
				if a == s.want {
					want++
				}
				waitCount(t, a, want)
			}
		})
	}
}

func TestOriginRemovedOnClose(t *testing.T) {
	e := newEnv(t)
	r := e.newRedirector(t)
	setEndpoints(t, r, ep(host(e.ns.PeerAddr4), dbPort, e.d4.addr()))

	c := connect(t, clientOpts{cg: e.cg, cred: nobody}, 4, e.db4Addr())
	conn := e.d4.accept(t)
	client, listener := addrPort(conn.RemoteAddr()), addrPort(conn.LocalAddr())
	if _, err := r.Origin(context.Background(), client, listener); err != nil {
		t.Fatalf("Origin while connected: %v", err)
	}
	if err := c.close(); err != nil {
		t.Fatalf("client: %v (stderr %s)", err, c.stderr)
	}
	conn.Close()
	testenv.WaitFor(t, waitFor, "origin entry removed after close", func() bool {
		_, err := r.Origin(context.Background(), client, listener)
		return errors.Is(err, ErrNoOrigin)
	})
	if n := originEntries(t, r); n != 0 {
		t.Errorf("origin map holds %d entries after every client closed, want 0", n)
	}
}

// The process that connected may have exited while its connection lives on
// (handed to a child): the kernel's record remains, /proc details are empty.
func TestOriginOfExitedProcess(t *testing.T) {
	e := newEnv(t)
	r := e.newRedirector(t)
	setEndpoints(t, r, ep(host(e.ns.PeerAddr4), dbPort, e.d4.addr()))

	c := startClient(t, clientOpts{cg: e.cg, cred: other},
		helperReq{Mode: "connect", Family: 4, Addr: e.db4Addr().String(), Handoff: true})
	conn := e.d4.accept(t)
	if err := c.wait(); err != nil {
		t.Fatalf("client: %v (stderr %s)", err, c.stderr)
	}
	o, err := r.Origin(context.Background(), addrPort(conn.RemoteAddr()), addrPort(conn.LocalAddr()))
	if err != nil {
		t.Fatalf("Origin after the client exited: %v", err)
	}
	if o.PID != uint32(c.resp.PID) || o.UID != other.Uid || o.Comm != clientComm || o.OriginalDst != e.db4Addr() {
		t.Errorf("Origin = %+v, want pid %d uid %d comm %s dst %s", o, c.resp.PID, other.Uid, clientComm, e.db4Addr())
	}
	if o.Exe != "" || o.Cmdline != nil {
		t.Errorf("Origin of an exited process has Exe %q Cmdline %q, want them empty", o.Exe, o.Cmdline)
	}
}

func TestOriginUnknownConnection(t *testing.T) {
	e := newEnv(t)
	r := e.newRedirector(t)
	_, err := r.Origin(context.Background(), netip.MustParseAddrPort("127.0.0.1:1"), e.d4.addr())
	if !errors.Is(err, ErrNoOrigin) {
		t.Fatalf("Origin of an unknown connection: %v, want ErrNoOrigin", err)
	}
}

func originEntries(t *testing.T, r *Redirector) int {
	t.Helper()
	var (
		k redirectIlTuple
		v redirectIlOrigin
		n int
	)
	it := r.objs.IlOrigins.Iterate()
	for it.Next(&k, &v) {
		n++
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return n
}
