package redirect

import (
	"context"
	"io"
	"testing"
	"time"
)

// TCP Fast Open connects inside sendto(MSG_FASTOPEN); the connect hook must
// still redirect it, data in the SYN included.
func TestFastOpenIsRedirected(t *testing.T) {
	e := newEnv(t)
	r := e.newRedirector(t)
	setEndpoints(t, r, ep(host(e.ns.PeerAddr4), dbPort, e.d4.addr()))

	c := startClient(t, clientOpts{cg: e.cg, cred: nobody}, helperReq{Mode: "fastopen", Family: 4, Addr: e.db4Addr().String()})
	if c.resp.Err != "" {
		t.Fatalf("sendto(MSG_FASTOPEN): %s", c.resp.Err)
	}
	if c.resp.Peer != e.db4Addr().String() {
		t.Errorf("getpeername = %s, want %s", c.resp.Peer, e.db4Addr())
	}
	conn := e.d4.accept(t)
	if err := conn.SetReadDeadline(time.Now().Add(waitFor)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, len(fastopenData))
	if _, err := io.ReadFull(conn, buf); err != nil || string(buf) != fastopenData {
		t.Fatalf("daemon read %q, %v; want %q", buf, err, fastopenData)
	}
	if _, err := r.Origin(context.Background(), addrPort(conn.RemoteAddr()), addrPort(conn.LocalAddr())); err != nil {
		t.Errorf("Origin: %v", err)
	}
	if n := e.db4.count.Load(); n != 0 {
		t.Errorf("the real endpoint saw %d connections, want 0", n)
	}
}
