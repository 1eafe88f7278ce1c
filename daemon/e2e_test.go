package daemon

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/interlock-dev/interlock/daemon/alerts"
	"github.com/interlock-dev/interlock/daemon/config"
	"github.com/interlock-dev/interlock/daemon/hostsession"
	"github.com/interlock-dev/interlock/redirect"
	"github.com/interlock-dev/interlock/testenv"
)

// world is a running interlockd with the redirect attached to a test
// cgroup, in front of a throwaway PostgreSQL whose real address is the
// protected endpoint.
type world struct {
	pg     *testenv.Postgres
	issuer *testenv.Issuer
	cg     *testenv.Cgroup
	ns     *testenv.NetNS
	cfg    *config.Config
	d      *Daemon
	stop   func()
}

func newWorld(t *testing.T) *world { return newWorldIn(t, nil) }

// newWorldIn is a world whose database and interlockd listener are on the
// host side of ns's veth (the node's address, as pods see it) when ns is
// set, else on loopback.
func newWorldIn(t *testing.T, ns *testenv.NetNS) *world {
	t.Helper()
	testenv.RequireRoot(t)
	w := &world{ns: ns}
	pgOpts := testenv.PostgresOptions{StandardRoles: true, SampleData: true, IPv6: true}
	if ns != nil {
		pgOpts.IPv6 = false
		pgOpts.ListenAddresses = []netip.Addr{netip.MustParseAddr("127.0.0.1"), ns.HostAddr4}
	}
	w.pg = testenv.NewPostgres(t, pgOpts)
	w.issuer = testenv.NewIssuer(t, testenv.IssuerOptions{})
	w.cg = testenv.NewCgroup(t)
	pinDir, err := os.MkdirTemp("/sys/fs/bpf", "interlock-daemon-test-")
	if err != nil {
		t.Fatalf("pin dir on bpffs: %v", err)
	}
	t.Cleanup(func() {
		if err := redirect.Uninstall(context.Background(), pinDir); err != nil {
			t.Errorf("uninstall: %v", err)
		}
		os.RemoveAll(pinDir)
	})
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw-")
	for name, secret := range map[string]string{"ro": testenv.RoleROPassword, "rw": testenv.RoleRWPassword, "admin": testenv.RoleAdminPassword} {
		if err := os.WriteFile(pw+name, []byte(secret), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	port := w.pg.Port
	listen, dbHost := "127.0.0.1:0", "127.0.0.1"
	if ns != nil {
		listen, dbHost = ns.HostAddr4.String()+":0", ns.HostAddr4.String()
	}
	w.cfg = &config.Config{
		Endpoints: []config.Endpoint{{
			Name:     "db",
			Listen:   listen,
			Labels:   map[string]string{"environment": "development"},
			Protect:  []string{fmt.Sprintf("%s:%d", dbHost, port)},
			Upstream: config.Upstream{Address: w.pg.Addr().String(), SSLMode: "disable"},
			Roles: []config.Role{
				{Group: "admins", User: testenv.RoleAdmin, PasswordFile: pw + "admin"},
				{Group: "writers", User: testenv.RoleRW, PasswordFile: pw + "rw"},
				{Group: "readers", User: testenv.RoleRO, PasswordFile: pw + "ro"},
			},
		}},
		Identity: config.Identity{Issuer: w.issuer.URL, Audience: w.issuer.Audience},
		Audit:    config.Audit{Path: filepath.Join(dir, "audit", "audit.jsonl")},
		Redirect: config.Redirect{Enabled: true, Cgroup: w.cg.Path, PinDir: pinDir},
		// The cgroup guard only: tests never attach tc to the machine's
		// interfaces.
		GuardInterfaces: []string{},
		TLS:             config.TLS{CADir: filepath.Join(dir, "ca")},
		Approvals:       config.Approvals{Store: config.ApprovalStore{Path: filepath.Join(dir, "state", "approvals.json")}},
		Control:         config.Control{Socket: filepath.Join(dir, "run", "interlockd.sock"), SessionsFile: filepath.Join(dir, "state", "sessions.json")},
	}
	if err := w.cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	w.start(t)
	return w
}

// start runs interlockd until stop is called.
func (w *world) start(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan *Daemon, 1)
	done := make(chan error, 1)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	go func() {
		done <- Run(ctx, w.cfg, Options{Logger: log, Ready: func(d *Daemon) { ready <- d }})
	}()
	select {
	case w.d = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("interlockd did not start: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("interlockd did not start within 30s")
	}
	stopped := false
	w.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("interlockd: %v", err)
		}
	}
	t.Cleanup(w.stop)
}

// login gives uid a host session as sub in groups, as `interlock login` would.
func (w *world) login(t *testing.T, uid uint32, sub string, groups ...string) {
	t.Helper()
	tok, err := w.issuer.Mint(testenv.MintOptions{Subject: sub, Email: sub + "@example.com", Groups: groups, Expiry: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.d.Sessions.Login(context.Background(), uid, hostsession.Tokens{AccessToken: tok, Expiry: time.Now().Add(time.Hour)}); err != nil {
		t.Fatalf("login uid %d: %v", uid, err)
	}
}

// client is a database client process running as uid in the test cgroup.
type client struct {
	cmd   *exec.Cmd
	in    io.WriteCloser
	out   *bufio.Scanner
	first clientReport
}

// dial starts a client for host (the database's real address) with an
// arbitrary password, and reads its connection report.
func (w *world) dial(t *testing.T, uid uint32, host string) *client {
	t.Helper()
	return w.dialWith(t, uid, host, "not-a-token", false)
}

// dialWith starts a client with password; inNS runs it in the world's
// network namespace (a pod).
func (w *world) dialWith(t *testing.T, uid uint32, host, password string, inNS bool) *client {
	t.Helper()
	dsn := fmt.Sprintf("host=%s port=%d user=whoever password=%s dbname=%s sslmode=disable connect_timeout=10", host, w.pg.Port, password, w.pg.Database)
	cmd := exec.Command(clientBin)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid}}
	if inNS {
		// nsenter joins the namespace as root, then becomes uid.
		cmd = exec.Command("nsenter", "--net="+w.ns.Path(), "--setuid", fmt.Sprint(uid), "--setgid", fmt.Sprint(uid), clientBin)
	}
	cmd.Env = []string{clientEnv + "=" + dsn}
	w.cg.Apply(cmd)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	outR, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &client{cmd: cmd, in: in, out: bufio.NewScanner(outR)}
	t.Cleanup(func() { c.close() })
	c.first = c.read(t)
	return c
}

func (c *client) read(t *testing.T) clientReport {
	t.Helper()
	if !c.out.Scan() {
		t.Fatalf("client exited without a report: %v", c.out.Err())
	}
	var r clientReport
	if err := json.Unmarshal(c.out.Bytes(), &r); err != nil {
		t.Fatalf("client report %q: %v", c.out.Text(), err)
	}
	return r
}

// run sends one statement and returns its report.
func (c *client) run(t *testing.T, sql string) clientReport {
	t.Helper()
	if _, err := io.WriteString(c.in, sql+"\n"); err != nil {
		t.Fatal(err)
	}
	return c.read(t)
}

func (c *client) close() {
	c.in.Close()
	_ = c.cmd.Wait()
}

// auditRecords returns the audit records of type typ.
func (w *world) auditRecords(t *testing.T, typ string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(w.cfg.Audit.Path)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, line := range strings.Split(string(b), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["type"] == typ {
			out = append(out, m)
		}
	}
	return out
}

func TestRedirectEndToEnd(t *testing.T) {
	w := newWorld(t)
	w.login(t, 65534, "carol", "readers")
	w.login(t, 4242, "bob", "writers")
	dbAddr := fmt.Sprintf("127.0.0.1:%d", w.pg.Port)

	t.Run("BoundToHostSession", func(t *testing.T) {
		c := w.dial(t, 65534, "127.0.0.1")
		if c.first.ConnectErr != "" {
			t.Fatalf("connect: %s", c.first.ConnectErr)
		}
		if c.first.Peer != dbAddr {
			t.Fatalf("getpeername = %s, want the database's address %s", c.first.Peer, dbAddr)
		}
		if r := c.run(t, "SELECT current_user"); len(r.Rows) != 1 || r.Rows[0] != testenv.RoleRO {
			t.Fatalf("current_user: %+v, want %s (carol is a reader)", r, testenv.RoleRO)
		}
		if r := c.run(t, "SELECT count(*) FROM customers"); r.Err != "" {
			t.Fatalf("SELECT: %s", r.Err)
		}
		if r := c.run(t, "DROP TABLE customers"); r.Code != "42501" {
			t.Fatalf("DROP as reader: %+v, want 42501", r)
		}
	})
	t.Run("TwoUIDsTwoIdentities", func(t *testing.T) {
		c := w.dial(t, 4242, "127.0.0.1")
		if r := c.run(t, "SELECT current_user"); len(r.Rows) != 1 || r.Rows[0] != testenv.RoleRW {
			t.Fatalf("uid 4242 current_user: %+v, want %s (bob is a writer)", r, testenv.RoleRW)
		}
	})
	t.Run("NoSession", func(t *testing.T) {
		c := w.dial(t, 4343, "127.0.0.1")
		if c.first.Code != "28000" || !strings.Contains(c.first.ConnectErr, `no Interlock session for uid 4343`) || !strings.Contains(c.first.ConnectErr, `run "interlock login"`) {
			t.Fatalf("uid without a session: %+v", c.first)
		}
	})
	t.Run("ReloadAddsProtectedAddress", func(t *testing.T) {
		// [::1] is not protected yet: the client reaches PostgreSQL
		// directly, which refuses its made-up password.
		c := w.dial(t, 65534, "::1")
		if c.first.Code != "28P01" {
			t.Fatalf("unprotected [::1]: %+v, want PostgreSQL's own 28P01", c.first)
		}
		next := *w.cfg
		next.Endpoints = slices.Clone(w.cfg.Endpoints)
		next.Endpoints[0].Protect = []string{fmt.Sprintf("127.0.0.1:%d", w.pg.Port), fmt.Sprintf("[::1]:%d", w.pg.Port)}
		if err := w.d.Reload(context.Background(), &next); err != nil {
			t.Fatalf("reload: %v", err)
		}
	})
	t.Run("IPv6", func(t *testing.T) {
		c := w.dial(t, 65534, "::1")
		if want := fmt.Sprintf("[::1]:%d", w.pg.Port); c.first.ConnectErr != "" || c.first.Peer != want {
			t.Fatalf("IPv6: %+v, want peer %s", c.first, want)
		}
		if r := c.run(t, "SELECT current_user"); len(r.Rows) != 1 || r.Rows[0] != testenv.RoleRO {
			t.Fatalf("IPv6 current_user: %+v", r)
		}
	})
	t.Run("IPv4Mapped", func(t *testing.T) {
		c := w.dial(t, 65534, "::ffff:127.0.0.1")
		if c.first.ConnectErr != "" {
			t.Fatalf("IPv4-mapped: %s", c.first.ConnectErr)
		}
		if r := c.run(t, "SELECT current_user"); len(r.Rows) != 1 || r.Rows[0] != testenv.RoleRO {
			t.Fatalf("mapped current_user: %+v", r)
		}
	})
	t.Run("OutsideCgroupUnaffected", func(t *testing.T) {
		conn, err := pgx.Connect(context.Background(), w.pg.SuperuserDSN())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		var who string
		if err := conn.QueryRow(context.Background(), "SELECT current_user").Scan(&who); err != nil || who != w.pg.Superuser {
			t.Fatalf("direct connection from outside the cgroup: %q %v", who, err)
		}
	})
	t.Run("AuditShowsOriginAndIdentity", func(t *testing.T) {
		var found bool
		for _, r := range w.auditRecords(t, "session_start") {
			if r["user"] == "carol" && r["uid"] == float64(65534) && r["auth"] == "session" &&
				r["comm"] == "ilpsql" && r["original_destination"] == dbAddr && r["pid"].(float64) > 0 {
				found = true
			}
		}
		if !found {
			t.Fatalf("no session_start record with carol's origin: %v", w.auditRecords(t, "session_start"))
		}
	})
	t.Run("RawSocketBypassBlockedAndAlerted", func(t *testing.T) {
		cmd := exec.Command(clientBin)
		cmd.Env = []string{clientEnv + "=rawsyn:" + dbAddr}
		w.cg.Apply(cmd)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("raw SYN sender: %v %s", err, out)
		}
		cl := alerts.NewClient(w.cfg.Control.Socket)
		defer cl.Close()
		var found *alerts.Alert
		deadline := time.Now().Add(10 * time.Second)
		for found == nil && time.Now().Before(deadline) {
			resp, err := cl.List(context.Background(), 100)
			if err != nil {
				t.Fatalf("interlock alerts: %v", err)
			}
			for i, a := range resp.Alerts {
				if a.Kind == alerts.KindRawSocket && a.Action == alerts.ActionBlocked {
					found = &resp.Alerts[i]
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
		if found == nil {
			t.Fatal("no raw_socket alert for a raw SYN to the protected endpoint")
		}
		if found.Comm != "ilpsql" {
			t.Fatalf("alert names %q, want the sender ilpsql: %+v", found.Comm, found)
		}
		var audited bool
		for _, r := range w.auditRecords(t, "alert") {
			if r["kind"] == "raw_socket" {
				audited = true
			}
		}
		if !audited {
			t.Fatal("the alert is not in the audit chain")
		}
	})
	t.Run("LogoutTerminatesLiveConnections", func(t *testing.T) {
		c := w.dial(t, 4242, "127.0.0.1")
		if r := c.run(t, "SELECT 1"); r.Err != "" {
			t.Fatal(r.Err)
		}
		w.d.Sessions.Logout(4242)
		r := c.run(t, "SELECT 1")
		if r.Err == "" {
			t.Fatal("statement after logout succeeded")
		}
		c2 := w.dial(t, 4242, "127.0.0.1")
		if c2.first.Code != "28000" {
			t.Fatalf("connect after logout: %+v", c2.first)
		}
	})
	t.Run("RefusedWhileDaemonDown", func(t *testing.T) {
		w.stop()
		c := w.dial(t, 65534, "127.0.0.1")
		if !strings.Contains(c.first.ConnectErr, "connection refused") {
			t.Fatalf("connect with interlockd stopped: %+v, want connection refused", c.first)
		}
	})
}

// TestPodNetworkNamespace: a process in another network namespace (a pod)
// connecting to the database's address is redirected to interlockd's
// listener on the node address, authenticates with a token, and is bound
// to its origin.
func TestPodNetworkNamespace(t *testing.T) {
	ns := testenv.NewNetNS(t)
	w := newWorldIn(t, ns)
	tok, err := w.issuer.Mint(testenv.MintOptions{Subject: "ci-job", Groups: []string{"readers"}, Expiry: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	c := w.dialWith(t, 4343, ns.HostAddr4.String(), tok, true)
	if c.first.ConnectErr != "" {
		t.Fatalf("pod connect: %s", c.first.ConnectErr)
	}
	if want := fmt.Sprintf("%s:%d", ns.HostAddr4, w.pg.Port); c.first.Peer != want {
		t.Fatalf("pod sees peer %s, want the database's %s", c.first.Peer, want)
	}
	if r := c.run(t, "SELECT current_user"); len(r.Rows) != 1 || r.Rows[0] != testenv.RoleRO {
		t.Fatalf("pod current_user: %+v", r)
	}
	var found bool
	for _, r := range w.auditRecords(t, "session_start") {
		if r["user"] == "ci-job" && r["auth"] == "token" && r["uid"] == float64(4343) && r["netns"].(float64) != 0 {
			found = true
		}
	}
	if !found {
		t.Fatalf("no session_start with the pod's origin: %v", w.auditRecords(t, "session_start"))
	}
}
