package tlsca

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
)

func TestLoadOrCreateAndIssue(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ca")
	ca, err := LoadOrCreate(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(filepath.Join(dir, KeyFile)); fi.Mode().Perm() != 0o600 {
		t.Fatalf("key mode %o, want 600", fi.Mode().Perm())
	}
	again, err := LoadOrCreate(dir)
	if err != nil || !again.Cert.Equal(ca.Cert) {
		t.Fatalf("reload gave a different CA: %v", err)
	}
	cert, err := ca.Issue([]string{"db.prod.internal"}, []netip.Addr{netip.MustParseAddr("10.20.0.5"), netip.MustParseAddr("::1")})
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca.CertPEM)
	for _, name := range []string{"db.prod.internal", "10.20.0.5", "::1"} {
		if _, err := cert.Leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: name}); err != nil {
			t.Errorf("verify for %s: %v", name, err)
		}
	}
	if _, err := cert.Leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: "other.example"}); err == nil {
		t.Error("certificate verified for a name it does not carry")
	}
	// A real handshake.
	c1, c2 := net.Pipe()
	defer c1.Close()
	defer c2.Close()
	go func() { _ = tls.Server(c1, &tls.Config{Certificates: []tls.Certificate{cert}}).Handshake() }()
	if err := tls.Client(c2, &tls.Config{RootCAs: pool, ServerName: "10.20.0.5"}).Handshake(); err != nil {
		t.Fatalf("handshake: %v", err)
	}
}

func TestRefusesOpenDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ca")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreate(dir); err == nil {
		t.Fatal("a CA directory readable by others was accepted")
	}
}
