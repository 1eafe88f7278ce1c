package testenv

import (
	"context"
	"os"
	"testing"
)

// NewCgroup makes a child cgroup for a test and removes it with tb.Cleanup.
// It fails the test (skips under testing.Short()) when not running as root.
func NewCgroup(tb testing.TB) *Cgroup {
	tb.Helper()
	RequireRoot(tb)
	c, err := CreateCgroup(context.Background())
	if err != nil {
		tb.Fatalf("create cgroup (needs a kernel with cgroup v2): %v", err)
	}
	tb.Cleanup(func() {
		if err := c.Close(); err != nil {
			tb.Errorf("close cgroup: %v", err)
		}
	})
	return c
}

// RequireRoot fails the test unless it runs as root; under testing.Short()
// it skips instead. Tests of cgroups, network namespaces and eBPF need it.
func RequireRoot(tb testing.TB) {
	tb.Helper()
	if os.Geteuid() == 0 {
		return
	}
	const msg = "this test needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN, CAP_BPF): run `sudo make test` or `go test -exec sudo ./...`"
	if testing.Short() {
		tb.Skip("skipping in -short mode: " + msg)
	}
	tb.Fatal(msg)
}

// NewChild makes a child cgroup of c for a test and removes it with
// tb.Cleanup (before c, which was made earlier).
func (c *Cgroup) NewChild(tb testing.TB) *Cgroup {
	tb.Helper()
	child, err := c.CreateChild(context.Background())
	if err != nil {
		tb.Fatalf("create child cgroup: %v", err)
	}
	tb.Cleanup(func() {
		if err := child.Close(); err != nil {
			tb.Errorf("close child cgroup: %v", err)
		}
	})
	return child
}
