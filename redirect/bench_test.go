package redirect

import (
	"context"
	"net"
	"net/netip"
	"testing"

	"github.com/interlock-dev/interlock/testenv"
)

// BenchmarkConnect measures connect+close to a loopback listener from a
// client process: outside the redirect's cgroup (no programs run), inside it
// to an unprotected port (connect4 misses), and to a protected port
// (redirected: origin recorded, sockops bookkeeping on establish and close).
// ns/op is the client's own loop time per connect.
func BenchmarkConnect(b *testing.B) {
	requireBPF(b)
	cg := testenv.NewCgroup(b)
	pinDir := newPinDir(b)
	plain := listenDiscard(b)
	protected := listenDiscard(b)
	daemon := listenDiscard(b)
	r, err := New(context.Background(), Config{CgroupPath: cg.Path, PinDir: pinDir, Mark: testMark})
	if err != nil {
		b.Fatalf("New: %v", err)
	}
	b.Cleanup(func() { r.Close() })
	if err := r.SetEndpoints(context.Background(), []Endpoint{
		{Prefix: host(protected.Addr()), Port: protected.Port(), Listener: daemon},
	}); err != nil {
		b.Fatal(err)
	}
	cases := []struct {
		name string
		opts clientOpts
		dst  netip.AddrPort
	}{
		{"no-bpf", clientOpts{}, plain},
		{"miss", clientOpts{cg: cg}, plain},
		{"redirect", clientOpts{cg: cg}, protected},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			cl := startClient(b, c.opts, helperReq{Mode: "loop", Family: 4, Addr: c.dst.String(), N: b.N})
			b.ReportMetric(float64(cl.resp.ElapsedNS)/float64(b.N), "ns/op")
		})
	}
}

// listenDiscard listens on loopback and closes whatever it accepts.
func listenDiscard(tb testing.TB) netip.AddrPort {
	tb.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return addrPort(ln.Addr())
}
