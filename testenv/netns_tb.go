package testenv

import (
	"context"
	"net"
	"testing"
)

// NewNetNS makes a network namespace with a veth pair to the host for a test
// and removes it with tb.Cleanup. It fails the test (skips under
// testing.Short()) when not running as root.
func NewNetNS(tb testing.TB) *NetNS {
	tb.Helper()
	RequireRoot(tb)
	n, err := CreateNetNS(context.Background())
	if err != nil {
		tb.Fatalf("create netns (needs CONFIG_NET_NS and CONFIG_VETH): %v", err)
	}
	tb.Cleanup(func() {
		if err := n.Close(); err != nil {
			tb.Errorf("close netns: %v", err)
		}
	})
	return n
}

// ListenTB is Listen for a test: it fails the test on error and closes the
// listener with tb.Cleanup.
func (n *NetNS) ListenTB(tb testing.TB, network, address string) net.Listener {
	tb.Helper()
	l, err := n.Listen(context.Background(), network, address)
	if err != nil {
		tb.Fatalf("%v", err)
	}
	tb.Cleanup(func() { l.Close() })
	return l
}

// LinkNetNSTB is LinkNetNS for a test: it fails the test on error and
// removes the link with tb.Cleanup.
func LinkNetNSTB(tb testing.TB, a, b *NetNS) *NetNSLink {
	tb.Helper()
	l, err := LinkNetNS(context.Background(), a, b)
	if err != nil {
		tb.Fatalf("link netns: %v", err)
	}
	tb.Cleanup(func() {
		if err := l.Close(); err != nil {
			tb.Errorf("close netns link: %v", err)
		}
	})
	return l
}
