package testenv

import (
	"net"
	"net/netip"
	"testing"
	"time"
)

// A process in b reaches a listener in a over the direct link, from the
// link address of b: the host is not on the path.
func TestLinkNetNS(t *testing.T) {
	a, b := NewNetNS(t), NewNetNS(t)
	l := LinkNetNSTB(t, a, b)
	for _, c := range []struct {
		dst, from netip.Addr
	}{{a.PeerAddr4, l.BAddr4}, {a.PeerAddr6, l.BAddr6}} {
		t.Run(c.dst.String(), func(t *testing.T) {
			ln := a.ListenTB(t, "tcp", netip.AddrPortFrom(c.dst, 0).String())
			accepted := make(chan netip.Addr, 1)
			go func() {
				conn, err := ln.Accept()
				if err != nil {
					return
				}
				accepted <- conn.RemoteAddr().(*net.TCPAddr).AddrPort().Addr()
				conn.Close()
			}()
			err := b.Do(func() error {
				conn, err := net.DialTimeout("tcp", ln.Addr().String(), 10*time.Second)
				if err != nil {
					return err
				}
				return conn.Close()
			})
			if err != nil {
				t.Fatalf("dial from b: %v", err)
			}
			select {
			case got := <-accepted:
				if got != c.from {
					t.Errorf("listener saw %s, want b's link address %s", got, c.from)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("listener accepted nothing")
			}
		})
	}
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestCgroupChild(t *testing.T) {
	parent := NewCgroup(t)
	child := parent.NewChild(t)
	if want := parent.Rel + "/"; len(child.Rel) <= len(want) || child.Rel[:len(want)] != want {
		t.Errorf("child Rel = %q, want it below %q", child.Rel, parent.Rel)
	}
	if child.ID == 0 || child.ID == parent.ID {
		t.Errorf("child ID = %d, parent %d", child.ID, parent.ID)
	}
}
