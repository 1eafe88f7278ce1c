package redirect

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/interlock-dev/interlock/testenv"
)

// pinnedNames are the files New pins: one link per hook and the maps.
func pinnedNames(t *testing.T) []string {
	t.Helper()
	var names []string
	for _, h := range hooks {
		names = append(names, filepath.Base(linkPinPath("", h.name)))
	}
	spec, err := loadRedirect()
	if err != nil {
		t.Fatal(err)
	}
	for name, ms := range spec.Maps {
		if ms.Pinning == ebpf.PinByName {
			names = append(names, name)
		}
	}
	return names
}

// programsByHook returns the program ids attached at path, per hook.
func programsByHook(t *testing.T, path string) map[string][]ebpf.ProgramID {
	t.Helper()
	out := make(map[string][]ebpf.ProgramID)
	for _, h := range hooks {
		out[h.name] = attachedPrograms(t, path, h.attach)
	}
	return out
}

func TestRestartKeepsEnforcementAndUninstallRemovesIt(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	opts := clientOpts{cg: e.cg, cred: nobody}
	eps := []Endpoint{ep(host(e.ns.PeerAddr4), dbPort, e.d4.addr())}

	r1, err := New(ctx, e.config())
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	setEndpoints(t, r1, eps...)
	before := programsByHook(t, e.cg.Path)
	for name, ids := range before {
		if len(ids) != 1 {
			t.Fatalf("%s: %d programs attached, want 1", name, len(ids))
		}
	}
	a := connect(t, opts, 4, e.db4Addr())
	connA := e.d4.accept(t)

	// The daemon exits: its handles close, the pins keep enforcing.
	if err := r1.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := r1.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := r1.SetEndpoints(ctx, nil); !errors.Is(err, ErrClosed) {
		t.Errorf("SetEndpoints after Close: %v, want ErrClosed", err)
	}
	for _, name := range pinnedNames(t) {
		if _, err := os.Stat(filepath.Join(e.pinDir, name)); err != nil {
			t.Errorf("pin %s after Close: %v", name, err)
		}
	}
	b := connect(t, opts, 4, e.db4Addr())
	connB := e.d4.accept(t)

	// The daemon restarts: same endpoints and origins, new programs swapped
	// into the same links.
	r2 := e.newRedirector(t)
	got, err := r2.Endpoints(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, eps) {
		t.Errorf("endpoints after restart = %v, want %v", got, eps)
	}
	for _, c := range []struct {
		name string
		conn net.Conn
		pid  int
	}{{"connected before the restart", connA, a.resp.PID}, {"connected while down", connB, b.resp.PID}} {
		o, err := r2.Origin(ctx, addrPort(c.conn.RemoteAddr()), addrPort(c.conn.LocalAddr()))
		if err != nil {
			t.Errorf("Origin of the connection %s: %v", c.name, err)
			continue
		}
		if o.PID != uint32(c.pid) || o.OriginalDst != e.db4Addr() {
			t.Errorf("Origin of the connection %s: pid %d dst %s, want pid %d dst %s", c.name, o.PID, o.OriginalDst, c.pid, e.db4Addr())
		}
	}
	after := programsByHook(t, e.cg.Path)
	for name, ids := range after {
		if len(ids) != 1 {
			t.Errorf("%s after restart: %d programs attached, want 1 (the link reused)", name, len(ids))
		} else if ids[0] == before[name][0] {
			t.Errorf("%s after restart: still program %d, want the newly loaded one", name, ids[0])
		}
	}
	if err := r2.SetEndpoints(ctx, eps); err != nil {
		t.Fatalf("SetEndpoints after restart: %v", err)
	}
	connect(t, opts, 4, e.db4Addr())
	e.d4.accept(t)

	// Uninstall removes links, maps and the pin dir, even with r2 open.
	if err := Uninstall(ctx, e.pinDir); err != nil {
		t.Fatalf("Uninstall: %v", err)
	}
	if _, err := os.Stat(e.pinDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("pin dir after Uninstall: %v, want it gone", err)
	}
	for name, ids := range programsByHook(t, e.cg.Path) {
		if len(ids) != 0 {
			t.Errorf("%s after Uninstall: programs %v still attached", name, ids)
		}
	}
	db := e.db4.count.Load()
	connect(t, opts, 4, e.db4Addr())
	waitCount(t, e.db4, db+1)
	if err := Uninstall(ctx, e.pinDir); err != nil {
		t.Errorf("second Uninstall: %v", err)
	}
}

func TestNewMovesPinnedLinksToAnotherCgroup(t *testing.T) {
	e := newEnv(t)
	r1, err := New(context.Background(), e.config())
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := r1.Close(); err != nil {
		t.Fatal(err)
	}
	cg2 := testenv.NewCgroup(t)
	cfg := e.config()
	cfg.CgroupPath = cg2.Path
	r2, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("New at another cgroup: %v", err)
	}
	t.Cleanup(func() { r2.Close() })
	for name, ids := range programsByHook(t, e.cg.Path) {
		if len(ids) != 0 {
			t.Errorf("%s: programs %v left at the old cgroup", name, ids)
		}
	}
	for name, ids := range programsByHook(t, cg2.Path) {
		if len(ids) != 1 {
			t.Errorf("%s: %d programs at the new cgroup, want 1", name, len(ids))
		}
	}
}

func TestUninstallMissingDir(t *testing.T) {
	if err := Uninstall(context.Background(), filepath.Join(t.TempDir(), "absent")); err != nil {
		t.Fatalf("Uninstall of a missing pin dir: %v", err)
	}
}
