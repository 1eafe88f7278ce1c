package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"github.com/interlock-dev/interlock/daemon/audit"
	"github.com/interlock-dev/interlock/testenv"
)

// The two people of the demo and the uids they work as.
const (
	devSub      = "dana"
	devUID      = 65534 // nobody: an unprivileged developer account
	approverSub = "erin"
	approverUID = 0
)

type demo struct {
	dir    string
	bin    string
	pg     *testenv.Postgres
	issuer *testenv.Issuer
	cg     *testenv.Cgroup
	pinDir string
	daemon *exec.Cmd
	// stopDaemon stops interlockd (once): it writes its final checkpoint.
	stopDaemon func()
	addr       string // interlockd's listener
	dbAddr     string // the database's real address: what clients use
	metrics    string
	audit      string
	socket     string
	pubKey     string
	agent      string // a copy of psql posing as an AI coding agent
	psqlBin    string
	closers    []func() error
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

func say(format string, a ...any) { fmt.Printf("    "+format+"\n", a...) }

func (d *demo) run(ctx context.Context) error {
	if os.Geteuid() != 0 {
		return errors.New("run make demo as root: it attaches eBPF programs (to a cgroup of its own) and runs clients as other users")
	}
	var err error
	if d.bin, err = ensureBinaries(ctx); err != nil {
		return err
	}
	if d.psqlBin, err = findPsql(); err != nil {
		return err
	}
	if d.dir, err = os.MkdirTemp("", "interlock-demo-"); err != nil {
		return err
	}
	if err := os.Chmod(d.dir, 0o755); err != nil {
		return err
	}
	d.closers = append(d.closers, func() error { return os.RemoveAll(d.dir) })

	step("Starting a throwaway PostgreSQL with sample data (a customers table with PII)")
	d.pg, err = testenv.StartPostgres(ctx, testenv.PostgresOptions{StandardRoles: true, SampleData: true})
	if err != nil {
		return err
	}
	d.closers = append(d.closers, d.pg.Close)
	d.dbAddr = d.pg.Addr().String()
	say("PostgreSQL at %s — the address every client below connects to", d.dbAddr)

	step("Starting the local OIDC issuer (the company's identity provider)")
	d.issuer, err = testenv.StartIssuer(ctx, testenv.IssuerOptions{
		AccessTokenTTL: time.Hour, IDTokenTTL: time.Hour,
		Users: []testenv.User{
			{Subject: devSub, Email: devSub + "@example.com", Name: "Dana Developer", Groups: []string{"writers"}},
			{Subject: approverSub, Email: approverSub + "@example.com", Name: "Erin Approver", Groups: []string{"approvers", "readers"}},
		},
	})
	if err != nil {
		return err
	}
	d.closers = append(d.closers, d.issuer.Close)
	say("issuer %s; people: %s (writers), %s (approvers)", d.issuer.URL, devSub, approverSub)

	step("Starting interlockd with the eBPF redirect and the bypass guard")
	if err := d.startDaemon(ctx); err != nil {
		return err
	}
	say("redirect + guard attached to the demo cgroup %s (in production: the cgroup2 root, every process on the host)", d.cg.Path)
	say("protected endpoint %s → interlockd %s; audit log %s", d.dbAddr, d.addr, d.audit)

	return d.scenes(ctx)
}

// ensureBinaries builds bin/interlockd and bin/interlock.
func ensureBinaries(ctx context.Context) (string, error) {
	bin, err := filepath.Abs("bin")
	if err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin+"/", "./cmd/...")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build interlockd: %w", err)
	}
	return bin, nil
}

// findPsql returns the real psql binary (Debian's /usr/bin/psql is a
// wrapper script).
func findPsql() (string, error) {
	bin, err := testenv.FindPostgres()
	if err == nil {
		if p := filepath.Join(bin, "psql"); fileExists(p) {
			return p, nil
		}
	}
	if p, err := exec.LookPath("psql"); err == nil {
		return p, nil
	}
	return "", errors.New("psql not found: apt-get install -y postgresql-client")
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func (d *demo) startDaemon(ctx context.Context) error {
	var err error
	if d.cg, err = testenv.CreateCgroup(ctx); err != nil {
		return fmt.Errorf("demo cgroup: %w", err)
	}
	d.closers = append(d.closers, d.cg.Close)
	if d.pinDir, err = os.MkdirTemp("/sys/fs/bpf", "interlock-demo-"); err != nil {
		return fmt.Errorf("pin dir (is bpffs mounted at /sys/fs/bpf?): %w", err)
	}
	d.closers = append(d.closers, func() error {
		err := exec.Command(filepath.Join(d.bin, "interlockd"), "-uninstall", "-pin-dir", d.pinDir, "-config", "/nonexistent").Run()
		return errors.Join(err, os.RemoveAll(d.pinDir))
	})
	if d.addr, err = freeAddr(); err != nil {
		return err
	}
	if d.metrics, err = freeAddr(); err != nil {
		return err
	}
	d.audit = filepath.Join(d.dir, "log", "audit.jsonl")
	d.socket = filepath.Join(d.dir, "run", "interlockd.sock")
	state := filepath.Join(d.dir, "state")
	if err := os.MkdirAll(state, 0o700); err != nil {
		return err
	}
	pw := func(name, secret string) string {
		p := filepath.Join(state, name)
		_ = os.WriteFile(p, []byte(secret), 0o600)
		return p
	}
	keyFile, pubFile := filepath.Join(state, "audit-signing.key"), filepath.Join(d.dir, "audit-signing.pub")
	pub, priv, err := audit.GenerateKey()
	if err == nil {
		err = errors.Join(audit.SavePrivateKey(keyFile, priv), audit.SavePublicKey(pubFile, pub))
	}
	if err != nil {
		return fmt.Errorf("audit signing key: %w", err)
	}
	d.pubKey = pubFile
	// An "AI coding agent": a copy of psql under another name, not on the
	// policy's allowlist of programs that may write.
	d.agent = filepath.Join(d.dir, "agent", "ai-agent")
	if err := os.MkdirAll(filepath.Dir(d.agent), 0o755); err != nil {
		return err
	}
	if b, err := os.ReadFile(d.psqlBin); err == nil {
		err = os.WriteFile(d.agent, b, 0o755)
		if err != nil {
			return err
		}
	}
	cfg := fmt.Sprintf(`# interlockd configuration written by make demo
endpoints:
  - name: payments
    listen: %[1]s
    labels: {environment: production}
    protect: [%[2]s]
    upstream: {address: %[2]s, sslmode: disable}
    roles:
      - {group: admins, user: %[3]s, password_file: %[4]s}
      - {group: writers, user: %[5]s, password_file: %[6]s}
      - {group: readers, user: %[7]s, password_file: %[8]s}
    record_results: true
identity:
  issuer: %[9]s
  audience: %[10]s
policy:
  data:
    columns:
      public.customers.ssn: {tags: [pii], mask: {strategy: partial, keep: 4}}
      public.customers.email: {tags: [pii], mask: {strategy: email}}
      public.customers.card_number: {tags: [pii], mask: {strategy: redact}}
      public.customers.phone: {tags: [pii], mask: {strategy: hash, hash_length: 12}}
    origins:
      enforce: true
      write_allowlist: [%[11]q, "/usr/lib/postgresql/*/bin/psql", "/usr/bin/psql"]
audit:
  path: %[12]s
  signing_key_file: %[13]s
  checkpoint_interval: 10s
redirect: {enabled: true, cgroup: %[14]s, pin_dir: %[15]s}
guard: enforce
guard_interfaces: []
control: {socket: %[16]s, sessions_file: %[17]s}
approvals: {store: {path: %[18]s}}
tls: {ca_dir: %[19]s}
metrics: {listen: %[20]s}
`, d.addr, d.dbAddr, testenv.RoleAdmin, pw("admin.pw", testenv.RoleAdminPassword), testenv.RoleRW, pw("rw.pw", testenv.RoleRWPassword),
		testenv.RoleRO, pw("ro.pw", testenv.RoleROPassword), d.issuer.URL, d.issuer.Audience, d.psqlBin, d.audit, keyFile,
		d.cg.Path, d.pinDir, d.socket, filepath.Join(state, "sessions.json"), filepath.Join(state, "approvals.json"),
		filepath.Join(state, "ca"), d.metrics)
	cfgFile := filepath.Join(state, "interlockd.yaml")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		return err
	}
	logFile, err := os.Create(filepath.Join(d.dir, "interlockd.log"))
	if err != nil {
		return err
	}
	d.daemon = exec.Command(filepath.Join(d.bin, "interlockd"), "-config", cfgFile)
	d.daemon.Stdout, d.daemon.Stderr = logFile, logFile
	if err := d.daemon.Start(); err != nil {
		return fmt.Errorf("start interlockd: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- d.daemon.Wait() }()
	var once sync.Once
	d.stopDaemon = func() {
		once.Do(func() {
			_ = d.daemon.Process.Signal(os.Interrupt)
			select {
			case <-exited:
			case <-time.After(40 * time.Second):
				_ = d.daemon.Process.Kill()
				<-exited
			}
		})
	}
	d.closers = append(d.closers, func() error {
		d.stopDaemon()
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
