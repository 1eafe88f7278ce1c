package upstream

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/interlock-dev/interlock/daemon/tlsca"
	"github.com/interlock-dev/interlock/testenv"
)

func pemCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func pemKey(t *testing.T, key any) []byte {
	t.Helper()
	b, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: b})
}

// clientCert makes a CA and a client certificate for cn signed by it.
func clientCert(t *testing.T, cn string) (caPEM, certPEM, keyPEM []byte) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "client ca"}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: cn}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return pemCert(caDER), pemCert(der), pemKey(t, key)
}

// TestUpstreamTLS: verify-full against the database's CA, refusal of a
// wrong CA or name, and client-certificate authentication.
func TestUpstreamTLS(t *testing.T) {
	if testing.Short() {
		t.Skip("needs PostgreSQL")
	}
	ctx := context.Background()
	pg := testenv.NewPostgres(t, testenv.PostgresOptions{StandardRoles: true})
	dir := t.TempDir()
	ca, err := tlsca.LoadOrCreate(filepath.Join(dir, "db-ca"))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := ca.Issue([]string{"db.test"}, []netip.Addr{netip.MustParseAddr("127.0.0.1")})
	if err != nil {
		t.Fatal(err)
	}
	clientCA, cert, key := clientCert(t, testenv.RoleRW)
	err = pg.EnableSSL(ctx, append(pemCert(srv.Certificate[0]), ca.CertPEM...), pemKey(t, srv.PrivateKey), clientCA, []string{
		"hostssl all " + testenv.RoleRW + " 127.0.0.1/32 cert",
		"hostssl all all 127.0.0.1/32 scram-sha-256",
	})
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	caFile := filepath.Join(dir, "db-ca", tlsca.CertFile)
	if _, err := tlsca.LoadOrCreate(filepath.Join(dir, "other-ca")); err != nil {
		t.Fatal(err)
	}
	otherFile := filepath.Join(dir, "other-ca", tlsca.CertFile)

	addr := pg.Addr().String()
	d, err := New(Config{Address: addr, SSLMode: "verify-full", SSLRootCert: caFile, ConnectTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := d.Open(ctx, testenv.RoleRO, testenv.RoleROPassword, pg.Database, nil)
	if err != nil {
		t.Fatalf("verify-full with the database's CA: %v", err)
	}
	res := conn.ExecParams(ctx, "SELECT ssl::text FROM pg_stat_ssl WHERE pid = pg_backend_pid()", nil, nil, nil, nil).Read()
	conn.Close(ctx)
	if res.Err != nil || len(res.Rows) != 1 || string(res.Rows[0][0]) != "true" {
		t.Fatalf("upstream connection not TLS: %v %v", res.Rows, res.Err)
	}

	wrong, _ := New(Config{Address: addr, SSLMode: "verify-full", SSLRootCert: otherFile, ConnectTimeout: 5 * time.Second})
	if c, err := wrong.Open(ctx, testenv.RoleRO, testenv.RoleROPassword, pg.Database, nil); err == nil {
		c.Close(ctx)
		t.Fatal("verify-full accepted a server certificate from another CA")
	}
	byName, _ := New(Config{Address: "localhost:" + strings.Split(addr, ":")[1], SSLMode: "verify-full", SSLRootCert: caFile, ConnectTimeout: 5 * time.Second})
	if c, err := byName.Open(ctx, testenv.RoleRO, testenv.RoleROPassword, pg.Database, nil); err == nil {
		c.Close(ctx)
		t.Fatal("verify-full accepted a certificate for another name")
	}
	withCert, _ := New(Config{Address: addr, SSLMode: "verify-full", SSLRootCert: caFile, SSLCert: write("client.crt", cert), SSLKey: write("client.key", key), ConnectTimeout: 5 * time.Second})
	c, err := withCert.Open(ctx, testenv.RoleRW, "", pg.Database, nil)
	if err != nil {
		t.Fatalf("client-certificate authentication: %v", err)
	}
	c.Close(ctx)
	noCert, _ := New(Config{Address: addr, SSLMode: "verify-full", SSLRootCert: caFile, ConnectTimeout: 5 * time.Second})
	if c, err := noCert.Open(ctx, testenv.RoleRW, testenv.RoleRWPassword, pg.Database, nil); err == nil {
		c.Close(ctx)
		t.Fatal("a cert-only role logged in without a certificate")
	}
}

func TestForwardable(t *testing.T) {
	for name, want := range map[string]bool{"application_name": true, "TimeZone": true, "options": false, "search_path": false, "role": false, "replication": false} {
		if got := Forwardable(name); got != want {
			t.Errorf("Forwardable(%q) = %v, want %v", name, got, want)
		}
	}
}
