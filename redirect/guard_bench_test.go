package redirect

import (
	"context"
	"io"
	"net"
	"net/netip"
	"testing"

	"github.com/interlock-dev/interlock/testenv"
)

// BenchmarkGuardBulk measures a bulk TCP transfer from a process in the
// enforcement cgroup to an unprotected port, with the redirect only and
// then with the guard attached (cgroup_skb on every packet; tc as well on
// the veth path): over a veth into a namespace, and over loopback.
// MB/s is the client's write throughput.
func BenchmarkGuardBulk(b *testing.B) {
	requireGuard(b)
	cg := testenv.NewCgroup(b)
	ns := testenv.NewNetNS(b)
	pinDir := newPinDir(b)
	veth := listenSink(b, ns.ListenTB(b, "tcp4", netip.AddrPortFrom(ns.PeerAddr4, 5433).String()))
	lo := listenSink(b, mustListen(b, "tcp4", "127.0.0.1:0"))
	daemon := listenDiscard(b)
	ctx := context.Background()
	r, err := New(ctx, Config{CgroupPath: cg.Path, PinDir: pinDir, Mark: testMark})
	if err != nil {
		b.Fatalf("New: %v", err)
	}
	b.Cleanup(func() { r.Close() })
	if err := r.SetEndpoints(ctx, []Endpoint{{Prefix: host(ns.PeerAddr4), Port: dbPort, Listener: daemon}}); err != nil {
		b.Fatal(err)
	}
	run := func(name string) {
		for _, dst := range []struct {
			name string
			addr netip.AddrPort
		}{{"veth", veth}, {"loopback", lo}} {
			b.Run(name+"/"+dst.name, func(b *testing.B) {
				b.SetBytes(bulkChunk)
				c := startClient(b, clientOpts{cg: cg}, helperReq{Mode: "bulk", Addr: dst.addr.String(), N: b.N})
				b.ReportMetric(float64(c.resp.ElapsedNS)/float64(b.N), "ns/op")
			})
		}
	}
	run("redirect-only")
	g, err := NewGuard(ctx, r, GuardConfig{Interfaces: []string{ns.HostIf}})
	if err != nil {
		b.Fatalf("NewGuard: %v", err)
	}
	b.Cleanup(func() { g.Close() })
	run("guard")
}

func mustListen(tb testing.TB, network, addr string) net.Listener {
	tb.Helper()
	ln, err := net.Listen(network, addr)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ln.Close() })
	return ln
}

// listenSink reads and discards whatever each connection sends, then closes it.
func listenSink(tb testing.TB, ln net.Listener) netip.AddrPort {
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				io.Copy(io.Discard, c)
				c.Close()
			}()
		}
	}()
	return addrPort(ln.Addr())
}
