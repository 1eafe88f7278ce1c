package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/interlock-dev/interlock/daemon/audit"
	"github.com/interlock-dev/interlock/testenv"
)

type demo struct {
	dir     string
	pg      *testenv.Postgres
	issuer  *testenv.Issuer
	daemon  *exec.Cmd
	addr    string
	metrics string
	audit   string
	closers []func() error
}

func (d *demo) cleanup() error {
	var errs []error
	for i := len(d.closers) - 1; i >= 0; i-- {
		errs = append(errs, d.closers[i]())
	}
	return errors.Join(errs...)
}

func step(format string, a ...any) {
	fmt.Printf("\n\033[1m==> "+format+"\033[0m\n", a...)
}

func (d *demo) run(ctx context.Context) error {
	bin, err := ensureBinaries(ctx)
	if err != nil {
		return err
	}
	if _, err := exec.LookPath("psql"); err != nil {
		return errors.New("psql not found: apt-get install -y postgresql-client")
	}
	d.dir, err = os.MkdirTemp("", "interlock-demo-")
	if err != nil {
		return err
	}
	d.closers = append(d.closers, func() error { return os.RemoveAll(d.dir) })

	step("Starting a throwaway PostgreSQL with sample data (customers with PII, orders)")
	d.pg, err = testenv.StartPostgres(ctx, testenv.PostgresOptions{StandardRoles: true, SampleData: true})
	if err != nil {
		return err
	}
	d.closers = append(d.closers, d.pg.Close)
	fmt.Printf("    PostgreSQL %s at %s (data dir %s)\n", filepath.Base(filepath.Dir(d.pg.BinDir)), d.pg.Addr(), d.pg.DataDir)

	step("Starting the development OIDC issuer")
	d.issuer, err = testenv.StartIssuer(ctx, testenv.IssuerOptions{AccessTokenTTL: time.Hour, IDTokenTTL: time.Hour})
	if err != nil {
		return err
	}
	d.closers = append(d.closers, d.issuer.Close)
	fmt.Printf("    issuer %s\n", d.issuer.URL)

	step("Starting interlockd in front of the database")
	if err := d.startDaemon(ctx, bin); err != nil {
		return err
	}
	fmt.Printf("    interlockd listening on %s; audit log %s; metrics http://%s/metrics\n", d.addr, d.audit, d.metrics)

	return d.session(ctx, bin)
}

// ensureBinaries builds bin/interlockd and bin/interlock when missing.
func ensureBinaries(ctx context.Context) (string, error) {
	bin, err := filepath.Abs("bin")
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(filepath.Join(bin, "interlockd")); err == nil {
		return bin, nil
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin+"/", "./cmd/...")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build interlockd: %w", err)
	}
	return bin, nil
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func (d *demo) startDaemon(ctx context.Context, bin string) error {
	var err error
	if d.addr, err = freeAddr(); err != nil {
		return err
	}
	if d.metrics, err = freeAddr(); err != nil {
		return err
	}
	d.audit = filepath.Join(d.dir, "audit", "audit.jsonl")
	pw := func(name, secret string) (string, error) {
		p := filepath.Join(d.dir, name)
		return p, os.WriteFile(p, []byte(secret), 0o600)
	}
	adminPW, err := pw("admin.pw", testenv.RoleAdminPassword)
	if err != nil {
		return err
	}
	rwPW, _ := pw("rw.pw", testenv.RoleRWPassword)
	roPW, _ := pw("ro.pw", testenv.RoleROPassword)
	keyFile := filepath.Join(d.dir, "audit-signing.key")
	pubFile := filepath.Join(d.dir, "audit-signing.pub")
	pub, priv, err := audit.GenerateKey()
	if err == nil {
		err = errors.Join(audit.SavePrivateKey(keyFile, priv), audit.SavePublicKey(pubFile, pub))
	}
	if err != nil {
		return fmt.Errorf("audit signing key: %w", err)
	}
	cfg := fmt.Sprintf(`# interlockd configuration written by make demo
endpoints:
  - name: demo
    listen: %s
    labels: {environment: production, team: payments}
    upstream: {address: %s, sslmode: disable}
    roles:
      - {group: admins, user: %s, password_file: %s}
      - {group: writers, user: %s, password_file: %s}
      - {group: readers, user: %s, password_file: %s}
identity:
  issuer: %s
  audience: %s
audit:
  path: %s
  signing_key_file: %q
metrics:
  listen: %s
control:
  socket: %s
  sessions_file: %s
approvals:
  store: {path: %s}
tls:
  ca_dir: %s
`, d.addr, d.pg.Addr(), testenv.RoleAdmin, adminPW, testenv.RoleRW, rwPW, testenv.RoleRO, roPW,
		d.issuer.URL, d.issuer.Audience, d.audit, keyFile, d.metrics,
		filepath.Join(d.dir, "run", "interlockd.sock"), filepath.Join(d.dir, "state", "sessions.json"),
		filepath.Join(d.dir, "state", "approvals.json"), filepath.Join(d.dir, "state", "ca"))
	cfgFile := filepath.Join(d.dir, "interlockd.yaml")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		return err
	}
	logFile, err := os.Create(filepath.Join(d.dir, "interlockd.log"))
	if err != nil {
		return err
	}
	d.daemon = exec.Command(filepath.Join(bin, "interlockd"), "-config", cfgFile)
	d.daemon.Stdout, d.daemon.Stderr = logFile, logFile
	if err := d.daemon.Start(); err != nil {
		return fmt.Errorf("start interlockd: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- d.daemon.Wait() }()
	d.closers = append(d.closers, func() error {
		_ = d.daemon.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = d.daemon.Process.Kill()
			<-exited
		}
		return logFile.Close()
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", d.addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case err := <-exited:
			log, _ := os.ReadFile(logFile.Name())
			return fmt.Errorf("interlockd exited (%v):\n%s", err, log)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return errors.New("interlockd did not start listening within 30s")
		}
	}
}
