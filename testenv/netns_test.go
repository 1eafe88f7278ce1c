package testenv

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
)

func TestNetNSListenerReachableFromHost(t *testing.T) {
	n := NewNetNS(t)
	for _, addr := range []netip.Addr{n.PeerAddr4, n.PeerAddr6} {
		t.Run(addr.String(), func(t *testing.T) {
			ln := n.ListenTB(t, "tcp", netip.AddrPortFrom(addr, 0).String())
			accepted := make(chan net.Addr, 1)
			go func() {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				accepted <- c.RemoteAddr()
				c.Close()
			}()
			c, err := net.DialTimeout("tcp", ln.Addr().String(), 10*time.Second)
			if err != nil {
				t.Fatalf("dial the netns listener from the host: %v", err)
			}
			c.Close()
			select {
			case from := <-accepted:
				host := n.HostAddr4
				if addr.Is6() {
					host = n.HostAddr6
				}
				if got := from.(*net.TCPAddr).AddrPort().Addr(); got != host {
					t.Errorf("listener saw %s, want the host side %s", got, host)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("listener accepted nothing")
			}
		})
	}
	// The listener lives in the namespace, not on the host.
	if _, err := net.Listen("tcp", netip.AddrPortFrom(n.PeerAddr4, 0).String()); err == nil {
		t.Error("the peer address is bindable on the host; want it only inside the netns")
	}
	if err := n.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := netlink.LinkByName(n.HostIf); err == nil {
		t.Errorf("veth %s still exists after Close", n.HostIf)
	}
	if err := n.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
