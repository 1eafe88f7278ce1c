package redirect

import (
	"context"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/features"
	"github.com/cilium/ebpf/link"
	"github.com/interlock-dev/interlock/testenv"
	"golang.org/x/sys/unix"
)

const (
	dbPort   = 5432             // the protected endpoint's port inside the netns
	testMark = 0x1c0c4b42       // the daemon mark the tests configure
	waitFor  = 10 * time.Second // upper bound of every wait in these tests
)

// requireBPF fails the test unless it runs as root on a kernel with what the
// redirect needs; under testing.Short() it skips instead.
func requireBPF(tb testing.TB) {
	tb.Helper()
	testenv.RequireRoot(tb)
	requireKernel(tb, "the redirect needs Linux 6.1+ with CONFIG_BPF_SYSCALL and CONFIG_CGROUP_BPF", []kernelFeature{
		{"cgroup sock_addr programs (CONFIG_CGROUP_BPF)", features.HaveProgramType(ebpf.CGroupSockAddr)},
		{"sockops programs (CONFIG_CGROUP_BPF)", features.HaveProgramType(ebpf.SockOps)},
		{"LPM trie maps", features.HaveMapType(ebpf.LPMTrie)},
		{"socket storage maps (CONFIG_BPF_SYSCALL, Linux 5.2+)", features.HaveMapType(ebpf.SkStorage)},
	})
}

// kernelFeature is a kernel feature probe's result.
type kernelFeature struct {
	what string
	err  error
}

// requireKernel fails the test (skips it under testing.Short()) at the
// first feature the kernel lacks; need says what needs them.
func requireKernel(tb testing.TB, need string, fs []kernelFeature) {
	tb.Helper()
	for _, f := range fs {
		if f.err == nil {
			continue
		}
		msg := "kernel lacks " + f.what + ": " + f.err.Error() + "; " + need
		if testing.Short() {
			tb.Skip("skipping in -short mode: " + msg)
		}
		tb.Fatal(msg)
	}
}

// newPinDir makes a throwaway pin dir on bpffs; cleanup uninstalls whatever
// is pinned there.
func newPinDir(tb testing.TB) string {
	tb.Helper()
	if err := ensurePinDir(defaultBPFFS); err != nil {
		tb.Fatalf("bpffs: %v", err)
	}
	dir, err := os.MkdirTemp(defaultBPFFS, "interlock-test-")
	if err != nil {
		tb.Fatalf("make pin dir: %v", err)
	}
	tb.Cleanup(func() {
		if err := Uninstall(context.Background(), dir); err != nil {
			tb.Errorf("uninstall: %v", err)
		}
		os.RemoveAll(dir)
	})
	return dir
}

// env is one test's world: a cgroup, a netns holding the "databases", fake
// daemon listeners on loopback and a pin dir.
type env struct {
	cg     *testenv.Cgroup
	ns     *testenv.NetNS
	pinDir string
	db4    *acceptor // PeerAddr4:5432 inside the netns
	db6    *acceptor // [PeerAddr6]:5432 inside the netns
	d4     *acceptor // 127.0.0.1:random, the "daemon"
	d6     *acceptor // [::1]:random
}

func newEnv(t *testing.T) *env {
	t.Helper()
	requireBPF(t)
	e := &env{cg: testenv.NewCgroup(t), ns: testenv.NewNetNS(t), pinDir: newPinDir(t)}
	e.db4 = newAcceptor(t, e.ns.ListenTB(t, "tcp4", netip.AddrPortFrom(e.ns.PeerAddr4, dbPort).String()))
	e.db6 = newAcceptor(t, e.ns.ListenTB(t, "tcp6", netip.AddrPortFrom(e.ns.PeerAddr6, dbPort).String()))
	e.d4 = listenLocal(t, "tcp4", "127.0.0.1:0")
	e.d6 = listenLocal(t, "tcp6", "[::1]:0")
	return e
}

func (e *env) config() Config {
	return Config{CgroupPath: e.cg.Path, PinDir: e.pinDir, Mark: testMark}
}

func (e *env) db4Addr() netip.AddrPort { return netip.AddrPortFrom(e.ns.PeerAddr4, dbPort) }
func (e *env) db6Addr() netip.AddrPort { return netip.AddrPortFrom(e.ns.PeerAddr6, dbPort) }

// newRedirector installs the redirect for the env's cgroup; cleanup closes it
// (the pin dir's cleanup uninstalls).
func (e *env) newRedirector(t *testing.T) *Redirector {
	t.Helper()
	r, err := New(context.Background(), e.config())
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return r
}

func setEndpoints(t *testing.T, r *Redirector, eps ...Endpoint) {
	t.Helper()
	if err := r.SetEndpoints(context.Background(), eps); err != nil {
		t.Fatalf("SetEndpoints: %v", err)
	}
}

func ep(p netip.Prefix, port uint16, l netip.AddrPort) Endpoint {
	return Endpoint{Prefix: p, Port: port, Listener: l}
}

// hostNetnsCookie is the cookie of the test process's network namespace.
func hostNetnsCookie(t *testing.T) uint64 {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	c, err := unix.GetsockoptUint64(fd, unix.SOL_SOCKET, unix.SO_NETNS_COOKIE)
	if err != nil {
		t.Fatalf("SO_NETNS_COOKIE: %v", err)
	}
	return c
}

// attachedPrograms lists the program ids attached to cgroup path for attach.
func attachedPrograms(t *testing.T, path string, attach ebpf.AttachType) []ebpf.ProgramID {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := link.QueryPrograms(link.QueryOptions{Target: int(f.Fd()), Attach: attach})
	if err != nil {
		t.Fatalf("query %s programs: %v", attach, err)
	}
	var ids []ebpf.ProgramID
	for _, p := range res.Programs {
		ids = append(ids, p.ID)
	}
	return ids
}
