package daemon

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/interlock-dev/interlock/daemon/approval"
	"github.com/interlock-dev/interlock/daemon/config"
	"github.com/interlock-dev/interlock/testenv"
)

// runDaemon starts interlockd with cfg and returns it; it stops at cleanup.
func runDaemon(t *testing.T, cfg *config.Config) *Daemon {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan *Daemon, 1)
	done := make(chan error, 1)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	go func() { done <- Run(ctx, cfg, Options{Logger: log, Ready: func(d *Daemon) { ready <- d }}) }()
	select {
	case d := <-ready:
		t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("interlockd: %v", err)
			}
		})
		return d
	case err := <-done:
		cancel()
		t.Fatalf("interlockd did not start: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("interlockd did not start within 30s")
	}
	return nil
}

// nodeConfig is a production endpoint in front of pg with a shared
// PostgreSQL approval store.
func nodeConfig(t *testing.T, node string, pg, store *testenv.Postgres, iss *testenv.Issuer) *config.Config {
	t.Helper()
	dir := t.TempDir()
	pw := filepath.Join(dir, "rw.pw")
	if err := os.WriteFile(pw, []byte(testenv.RoleRWPassword), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := &config.Config{
		Endpoints: []config.Endpoint{{
			Name: "prod", Listen: "127.0.0.1:0", Labels: map[string]string{"environment": "production"},
			Upstream: config.Upstream{Address: pg.Addr().String(), SSLMode: "disable"},
			Roles:    []config.Role{{Group: "writers", User: testenv.RoleRW, PasswordFile: pw}},
		}},
		Identity:  config.Identity{Issuer: iss.URL, Audience: iss.Audience},
		Audit:     config.Audit{Path: filepath.Join(dir, "audit.jsonl")},
		TLS:       config.TLS{CADir: filepath.Join(dir, "ca")},
		Control:   config.Control{Socket: filepath.Join(dir, "run", "sock"), SessionsFile: filepath.Join(dir, "state", "sessions.json")},
		Approvals: config.Approvals{NodeName: node},
	}
	if store != nil {
		cfg.Approvals.Store = config.ApprovalStore{Kind: "postgres", DSN: store.SuperuserDSN()}
	}
	return cfg
}

// TestTwoNodesShareApprovals: a statement held on node A is approved on
// node B through the shared PostgreSQL store; A releases it at once.
func TestTwoNodesShareApprovals(t *testing.T) {
	if testing.Short() {
		t.Skip("needs PostgreSQL")
	}
	pg := testenv.NewPostgres(t, testenv.PostgresOptions{StandardRoles: true, SampleData: true})
	store := testenv.NewPostgres(t, testenv.PostgresOptions{})
	iss := testenv.NewIssuer(t, testenv.IssuerOptions{})
	a := runDaemon(t, nodeConfig(t, "node-a", pg, store, iss))
	b := runDaemon(t, nodeConfig(t, "node-b", pg, store, iss))

	tok, _ := iss.Mint(testenv.MintOptions{Subject: "bob", Email: "bob@example.com", Groups: []string{"writers"}})
	addr := a.Proxy.Addr("prod").String()
	host, port, _ := strings.Cut(addr, ":")
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, fmt.Sprintf("host=%s port=%s user=x dbname=%s sslmode=disable password=%s", host, port, pg.Database, tok))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	done := make(chan error, 1)
	go func() {
		_, err := conn.Exec(ctx, "UPDATE customers SET notes = 'two nodes'", pgx.QueryExecModeSimpleProtocol)
		done <- err
	}()
	var req *approval.Request
	deadline := time.Now().Add(10 * time.Second)
	for req == nil && time.Now().Before(deadline) {
		rs, _ := b.Approvals.List(ctx, approval.Viewer{Root: true}, false)
		if len(rs) > 0 {
			req = rs[0]
		}
		time.Sleep(10 * time.Millisecond)
	}
	if req == nil {
		t.Fatal("node B never saw the request held on node A")
	}
	if req.Node != "node-a" {
		t.Fatalf("request node %q, want node-a", req.Node)
	}
	start := time.Now()
	if _, err := b.Approvals.Approve(ctx, req.ID, approval.Actor{Subject: "erin", Groups: []string{"approvers"}, Via: approval.ViaAPI}, "ok"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("approved on B, ran on A: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("node A did not release the statement within 5s of the approval on node B")
	}
	t.Logf("released on A %s after the approval on B", time.Since(start))
}

// TestPsqlApprovalFlow drives a held statement from psql.
func TestPsqlApprovalFlow(t *testing.T) {
	if testing.Short() {
		t.Skip("needs PostgreSQL")
	}
	pg := testenv.NewPostgres(t, testenv.PostgresOptions{StandardRoles: true, SampleData: true})
	iss := testenv.NewIssuer(t, testenv.IssuerOptions{})
	cfg := nodeConfig(t, "solo", pg, nil, iss)
	cfg.Approvals.Store = config.ApprovalStore{Path: filepath.Join(t.TempDir(), "state", "approvals.json")}
	d := runDaemon(t, cfg)
	tok, _ := iss.Mint(testenv.MintOptions{Subject: "bob", Email: "bob@example.com", Groups: []string{"writers"}})
	host, port, _ := strings.Cut(d.Proxy.Addr("prod").String(), ":")
	cmd := exec.Command("psql", "-X", "-h", host, "-p", port, "-U", "x", "-d", pg.Database, "-c", "DELETE FROM orders")
	cmd.Env = append(os.Environ(), "PGPASSWORD="+tok, "PGSSLMODE=disable")
	out := make(chan string, 1)
	go func() { b, _ := cmd.CombinedOutput(); out <- string(b) }()
	ctx := context.Background()
	var req *approval.Request
	deadline := time.Now().Add(10 * time.Second)
	for req == nil && time.Now().Before(deadline) {
		if rs, _ := d.Approvals.List(ctx, approval.Viewer{Root: true}, false); len(rs) > 0 {
			req = rs[0]
		}
		time.Sleep(10 * time.Millisecond)
	}
	if req == nil {
		t.Fatal("no request held")
	}
	if _, err := d.Approvals.Approve(ctx, req.ID, approval.Actor{Subject: "erin", Groups: []string{"approvers"}, Via: approval.ViaControl}, ""); err != nil {
		t.Fatal(err)
	}
	got := <-out
	for _, want := range []string{"NOTICE:  statement held for approval: request " + req.ID, "interlock approve " + req.ID, "DELETE 8"} {
		if !strings.Contains(got, want) {
			t.Fatalf("psql output lacks %q:\n%s", want, got)
		}
	}
}
