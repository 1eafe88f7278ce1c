package redirect

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/interlock-dev/interlock/testenv"
	"github.com/vishvananda/netlink"
)

// guardPrograms counts the programs attached at path per guard hook.
func guardProgramCounts(t *testing.T, path string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, h := range guardHooks {
		out[h.name] = len(attachedPrograms(t, path, h.attach))
	}
	return out
}

func wantGuardPrograms(t *testing.T, e *genv, n int) {
	t.Helper()
	for name, got := range guardProgramCounts(t, e.cg.Path) {
		if got != n {
			t.Errorf("%s: %d programs attached, want %d", name, got, n)
		}
	}
	if got := tcPrograms(t, e.ns.HostIf); got != n {
		t.Errorf("tc on %s: %d programs, want %d", e.ns.HostIf, got, n)
	}
}

// rawSYNErr sends a raw SYN from the cgroup and returns the sendto error.
func rawSYNErr(t *testing.T, e *genv) string {
	t.Helper()
	return startClient(t, clientOpts{cg: e.cg}, helperReq{Mode: "rawsyn", Addr: e.db4Addr().String()}).resp.Err
}

// Enforce mode must not start with a part missing; monitor mode starts
// with what it can attach and says what is missing.
func TestGuardFailClosed(t *testing.T) {
	e := newGuardWorld(t)
	e.r = e.newRedirector(t)
	setEndpoints(t, e.r, ep(host(e.ns.PeerAddr4), dbPort, e.d4.addr()))
	ctx := context.Background()

	_, err := NewGuard(ctx, e.r, guardConfig(GuardConfig{Mode: GuardEnforce, Interfaces: []string{e.ns.HostIf, "ilnone0"}}))
	if err == nil || !strings.Contains(err.Error(), "ilnone0") {
		t.Fatalf("NewGuard(enforce) with a missing interface: %v, want an error naming it", err)
	}
	wantGuardPrograms(t, e, 0)
	for _, h := range guardHooks {
		if _, err := os.Stat(linkPinPath(e.pinDir, h.name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("pin %s left after a failed start: %v", h.name, err)
		}
	}

	g := e.newGuard(t, GuardConfig{Mode: GuardMonitor, Interfaces: []string{e.ns.HostIf, "ilnone0"}})
	st := g.Status()
	if len(st.Degraded) != 1 || !strings.Contains(st.Degraded[0], "ilnone0") {
		t.Errorf("Status().Degraded = %q, want the missing interface", st.Degraded)
	}
	if len(st.Interfaces) != 1 || st.Interfaces[0] != e.ns.HostIf || st.Mode != GuardMonitor {
		t.Errorf("Status() = %+v, want monitor on %s", st, e.ns.HostIf)
	}
	wantGuardPrograms(t, e, 1)
}

// The guard's links are pinned: it keeps enforcing without the daemon, a
// restart swaps programs in place, "off" removes it, Uninstall removes all.
func TestGuardRestartOffUninstall(t *testing.T) {
	e := newGuardWorld(t)
	e.r = e.newRedirector(t)
	setEndpoints(t, e.r, ep(host(e.ns.PeerAddr4), dbPort, e.d4.addr()))
	ctx := context.Background()
	cfg := guardConfig(GuardConfig{Interfaces: []string{e.ns.HostIf}})

	for i := range 2 {
		g, err := NewGuard(ctx, e.r, cfg)
		if err != nil {
			t.Fatalf("NewGuard #%d: %v", i+1, err)
		}
		wantGuardPrograms(t, e, 1)
		if err := g.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if err := g.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		if got := rawSYNErr(t, e); got != "EPERM" {
			t.Fatalf("raw SYN with the daemon's guard closed: %q, want EPERM", got)
		}
	}

	off := cfg
	off.Mode = GuardOff
	g, err := NewGuard(ctx, e.r, off)
	if err != nil {
		t.Fatalf("NewGuard(off): %v", err)
	}
	g.Close()
	wantGuardPrograms(t, e, 0)
	if got := rawSYNErr(t, e); got != "" {
		t.Fatalf("raw SYN with the guard off: %q, want it sent", got)
	}

	g, err = NewGuard(ctx, e.r, cfg)
	if err != nil {
		t.Fatalf("NewGuard: %v", err)
	}
	g.Close()
	wantGuardPrograms(t, e, 1)
	if err := Uninstall(ctx, e.pinDir); err != nil {
		t.Fatalf("Uninstall: %v", err)
	}
	wantGuardPrograms(t, e, 0)
	if _, err := os.Stat(e.pinDir); !errors.Is(err, os.ErrNotExist) {
		entries, _ := filepath.Glob(filepath.Join(e.pinDir, "*"))
		t.Errorf("pin dir after Uninstall: %v (holds %v)", err, entries)
	}
}

// Interfaces that match a pattern and appear later get the tc program;
// removed ones are forgotten. (A test-only prefix: the machine's own
// interfaces are never touched.)
func TestGuardWatchesNewInterfaces(t *testing.T) {
	e := newGuardWorld(t)
	e.r = e.newRedirector(t)
	prefix := fmt.Sprintf("ilw%d", os.Getpid()%10000)
	g := e.newGuard(t, GuardConfig{Interfaces: []string{prefix + "*"}})
	if got := g.Status().Interfaces; len(got) != 0 {
		t.Fatalf("Status().Interfaces = %v before any match exists", got)
	}
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: prefix + "a"}, PeerName: prefix + "b"}
	if err := netlink.LinkAdd(veth); err != nil {
		t.Fatalf("add veth: %v", err)
	}
	t.Cleanup(func() { netlink.LinkDel(veth) })
	for _, name := range []string{veth.Name, veth.PeerName} {
		testenv.WaitFor(t, waitFor, "tc program on "+name, func() bool { return tcPrograms(t, name) == 1 })
	}
	testenv.WaitFor(t, waitFor, "both interfaces in Status", func() bool { return len(g.Status().Interfaces) == 2 })
	if err := netlink.LinkDel(veth); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, waitFor, "interfaces forgotten", func() bool { return len(g.Status().Interfaces) == 0 })
	pins, _ := filepath.Glob(filepath.Join(e.pinDir, tcxPinPrefix+"*"))
	if len(pins) != 0 {
		t.Errorf("tc pins left after the interfaces went: %v", pins)
	}
}
