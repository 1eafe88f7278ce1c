package proxy

import (
	"context"
	"crypto/tls"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestTLS(t *testing.T) {
	e := newEnv(t, envOptions{tls: true})
	ctx := ctxT(t)
	tok := e.token(t, "carol", "readers")

	c, err := pgx.Connect(ctx, e.dsnSSL(tok, "require"))
	if err != nil {
		t.Fatalf("sslmode=require: %v", err)
	}
	defer c.Close(ctx)
	if _, ok := c.PgConn().Conn().(*tls.Conn); !ok {
		t.Fatalf("sslmode=require connection is a %T, not TLS", c.PgConn().Conn())
	}
	var one int
	if err := c.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		t.Fatal(err)
	}
	// verify-full with the local CA trusted, from psql.
	host, port := splitHostPort(e.addr)
	cmd := exec.Command("psql", "-X", "-At", "-h", host, "-p", port, "-U", "x", "-d", e.pg.Database,
		"-c", "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", "-c", "SELECT 'verified'")
	cmd.Env = append(os.Environ(), "PGPASSWORD="+tok, "PGSSLMODE=verify-full", "PGSSLROOTCERT="+e.caFile)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "verified") {
		t.Fatalf("psql verify-full: %v\n%s", err, out)
	}
	// Plaintext still works in prefer mode.
	p, err := pgx.Connect(ctx, e.dsnSSL(tok, "disable"))
	if err != nil {
		t.Fatalf("sslmode=disable with TLS preferred: %v", err)
	}
	p.Close(ctx)
	// verify-full without trusting the CA fails.
	cmd = exec.Command("psql", "-X", "-At", "-h", host, "-p", port, "-U", "x", "-d", e.pg.Database, "-c", "SELECT 1")
	cmd.Env = append(os.Environ(), "PGPASSWORD="+tok, "PGSSLMODE=verify-full", "PGSSLROOTCERT=/dev/null")
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Fatalf("verify-full without the CA succeeded: %s", out)
	}
}

func TestTLSRequired(t *testing.T) {
	e := newEnv(t, envOptions{tlsOnly: true})
	ctx := context.Background()
	tok := e.token(t, "carol", "readers")
	_, err := pgx.Connect(ctx, e.dsnSSL(tok, "disable"))
	if pgCode(err) != "28000" || !strings.Contains(err.Error(), "requires TLS") {
		t.Fatalf("plaintext with TLS required: %v", err)
	}
	c, err := pgx.Connect(ctx, e.dsnSSL(tok, "require"))
	if err != nil {
		t.Fatalf("sslmode=require: %v", err)
	}
	c.Close(ctx)
}
