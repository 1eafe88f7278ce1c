package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/interlock-dev/interlock/daemon/approval"
	"github.com/interlock-dev/interlock/daemon/audit"
	"github.com/interlock-dev/interlock/daemon/control"
	"github.com/interlock-dev/interlock/daemon/hostsession"
	"github.com/interlock-dev/interlock/daemon/identity"
	"github.com/interlock-dev/interlock/testenv"
)

// approvalDaemon is a control socket with the approval routes mounted.
type approvalDaemon struct {
	iss      *testenv.Issuer
	sessions *hostsession.Store
	svc      *approval.Service
	socket   string
}

func newApprovalDaemon(t *testing.T) *approvalDaemon {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx := testCtx(t)
	iss := testenv.NewIssuer(t, testenv.IssuerOptions{Logger: quiet})
	v, err := identity.New(ctx, identity.Config{Issuer: iss.URL, Audience: iss.Audience, GroupsClaim: iss.GroupsClaim, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	sessions, err := hostsession.New(ctx, hostsession.Config{Verifier: v, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sessions.Close() })
	log, err := audit.Open(ctx, audit.Config{Path: filepath.Join(t.TempDir(), "audit", "audit.log"), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { log.Close() })
	store, err := approval.NewLocalStore(ctx, approval.LocalConfig{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	svc, err := approval.New(ctx, approval.Config{Store: store, Audit: log, Node: "node-a", Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	socket := filepath.Join(testenv.SharedTempDir(t, "interlock-cli-*"), "interlockd.sock")
	srv, err := control.New(ctx, control.Config{SocketPath: socket, Store: sessions, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	approval.MountControl(srv, svc, sessions)
	sctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(sctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return &approvalDaemon{iss: iss, sessions: sessions, svc: svc, socket: socket}
}

// login binds uid to the issuer's user sub, as `interlock login` would.
func (d *approvalDaemon) login(t *testing.T, uid uint32, sub string) {
	t.Helper()
	tok, err := d.iss.Mint(testenv.MintOptions{User: sub})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.sessions.Login(testCtx(t), uid, hostsession.Tokens{AccessToken: tok}); err != nil {
		t.Fatalf("login uid %d as %s: %v", uid, sub, err)
	}
}

// hold makes bob's statement wait for a DBA.
func (d *approvalDaemon) hold(t *testing.T, stmt, param string) *approval.Request {
	t.Helper()
	r, err := d.svc.Request(testCtx(t), approval.NewRequest{
		Requester: approval.Requester{Subject: "bob", Email: "bob@example.com", Groups: []string{"engineering"},
			Origin: &approval.Origin{PID: 4242, UID: 1000, Comm: "psql", Auth: "session"}},
		Endpoint: "prod", Database: "app", Statement: stmt,
		Params:         &approval.Params{Values: [][]byte{[]byte(param)}},
		ApproverGroups: []string{"dba"}, Reason: "deletes need a DBA",
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRequestsApproveReject(t *testing.T) {
	d := newApprovalDaemon(t)
	uid := uint32(os.Getuid())
	sock := []string{"--socket", d.socket}
	r := d.hold(t, "DELETE FROM orders\n  WHERE id = $1 AND status = 'cancelled' AND created_at < now() - interval '90 days'", "5")

	d.login(t, uid, "alice")
	out := cli(t, append([]string{"requests"}, sock...)...)
	if out.code != exitOK {
		t.Fatalf("requests: exit %d %s", out.code, out.stderr)
	}
	lines := strings.Split(strings.TrimSpace(out.stdout), "\n")
	if len(lines) != 2 || !regexp.MustCompile(`^ID\s+AGE\s+REQUESTER\s+ORIGIN\s+ENDPOINT\s+STATEMENT\s+REASON$`).MatchString(lines[0]) {
		t.Fatalf("requests table:\n%s", out.stdout)
	}
	row := lines[1]
	for _, want := range []string{r.ID, "bob", "psql[4242] uid 1000 @node-a", "prod/app", "DELETE FROM orders WHERE id = $1 AND status = 'cancelled' A…", "deletes need a DBA"} {
		if !strings.Contains(row, want) {
			t.Errorf("row %q lacks %q", row, want)
		}
	}

	js := cli(t, append([]string{"requests", "--json"}, sock...)...)
	var list approval.ListResponse
	if err := json.Unmarshal([]byte(js.stdout), &list); err != nil || len(list.Requests) != 1 {
		t.Fatalf("requests --json: %v\n%s", err, js.stdout)
	}
	if got := list.Requests[0]; got.Statement != r.Statement || string(got.Params.Values[0]) != "5" || got.Binding != r.Binding {
		t.Errorf("requests --json lost the exact statement: %+v", got)
	}

	// The requester cannot approve; a non-member neither.
	d.login(t, uid, "bob")
	if out := cli(t, append([]string{"approve", r.ID}, sock...)...); out.code != exitFailed || !strings.Contains(out.stderr, "must be different people") {
		t.Errorf("bob approves his own: exit %d %q", out.code, out.stderr)
	}
	d.login(t, uid, "carol")
	if out := cli(t, append([]string{"approve", r.ID}, sock...)...); out.code != exitFailed || !strings.Contains(out.stderr, "not in an approver group") {
		t.Errorf("carol approves: exit %d %q", out.code, out.stderr)
	}

	d.login(t, uid, "alice")
	out = cli(t, append([]string{"approve", r.ID, "--comment", "ticket OPS-1"}, sock...)...)
	if out.code != exitOK || !strings.HasPrefix(out.stdout, "Approved request "+r.ID+" by bob on prod/app:\n  DELETE FROM orders\n") ||
		!strings.Contains(out.stdout, "parameters: $1='5'") || !strings.Contains(out.stdout, "It may run once") {
		t.Errorf("approve: exit %d\n%s%s", out.code, out.stdout, out.stderr)
	}
	got, err := d.svc.Get(testCtx(t), r.ID)
	if err != nil || got.State != approval.StateApproved || got.Decision.By.Subject != "alice" || got.Decision.Comment != "ticket OPS-1" {
		t.Errorf("after approve: %+v %v", got, err)
	}
	if out := cli(t, append([]string{"approve", "--comment", "again", r.ID}, sock...)...); out.code != exitFailed || !strings.Contains(out.stderr, "already approved") {
		t.Errorf("second approve: exit %d %q", out.code, out.stderr)
	}
	if out := cli(t, append([]string{"requests"}, sock...)...); out.code != exitOK || strings.TrimSpace(out.stdout) != "No pending approval requests." {
		t.Errorf("requests after approval: %q", out.stdout)
	}
	if out := cli(t, append([]string{"requests", "--all"}, sock...)...); !strings.Contains(out.stdout, "STATE") || !strings.Contains(out.stdout, "approved") {
		t.Errorf("requests --all:\n%s", out.stdout)
	}

	r2 := d.hold(t, "DELETE FROM orders WHERE id = $1", "6")
	out = cli(t, append([]string{"reject", r2.ID, "--reason", "wrong order"}, sock...)...)
	if out.code != exitOK || strings.TrimSpace(out.stdout) != "Rejected request "+r2.ID+" by bob." {
		t.Errorf("reject: exit %d %q %q", out.code, out.stdout, out.stderr)
	}
	r3 := d.hold(t, "DELETE FROM orders WHERE id = $1", "7")
	d.login(t, uid, "bob")
	out = cli(t, append([]string{"reject", r3.ID, "--reason", "typo"}, sock...)...)
	if out.code != exitOK || strings.TrimSpace(out.stdout) != "Withdrew your request "+r3.ID+"." {
		t.Errorf("bob rejects his own: exit %d %q %q", out.code, out.stdout, out.stderr)
	}
}

// TestRequestsOtherUID: the daemon names the caller by its uid: another
// uid sees what its own session may see, and nothing without one.
func TestRequestsOtherUID(t *testing.T) {
	const nobody = 65534
	d := newApprovalDaemon(t)
	r := d.hold(t, "DELETE FROM orders WHERE id = $1", "5")
	out := runAs(t, nobody, "requests", "--socket", d.socket)
	if out.code != exitNotLoggedIn || !strings.Contains(out.stderr, "interlock login") {
		t.Errorf("nobody without a session: exit %d %q", out.code, out.stderr)
	}
	for _, tc := range []struct {
		sub  string
		sees bool
	}{{"carol", false}, {"bob", true}, {"alice", true}} {
		sub, sees := tc.sub, tc.sees
		d.login(t, nobody, sub)
		out := runAs(t, nobody, "requests", "--json", "--socket", d.socket)
		var list approval.ListResponse
		if err := json.Unmarshal([]byte(out.stdout), &list); err != nil {
			t.Fatalf("nobody as %s: exit %d %v\n%s%s", sub, out.code, err, out.stdout, out.stderr)
		}
		if got := len(list.Requests) == 1 && list.Requests[0].ID == r.ID; got != sees {
			t.Errorf("nobody logged in as %s sees the request: %v, want %v", sub, got, sees)
		}
	}
	// alice (the last login), as uid nobody, approves.
	if out := runAs(t, nobody, "approve", r.ID, "--socket", d.socket); out.code != exitOK {
		t.Errorf("approve as nobody (alice): exit %d %q", out.code, out.stderr)
	}
	got, err := d.svc.Get(testCtx(t), r.ID)
	if err != nil || got.Decision == nil || got.Decision.By.UID == nil || *got.Decision.By.UID != nobody {
		t.Errorf("decision %+v %v, want by uid %d", got.Decision, err, nobody)
	}
}

func TestApprovalUsage(t *testing.T) {
	d := newApprovalDaemon(t)
	for _, args := range [][]string{
		{"approve"}, {"approve", "a", "b"}, {"approve", "a", "--bogus"},
		{"reject", "a"}, {"reject", "--reason", "x"}, {"reject", "a", "--reason", "  "},
		{"requests", "extra"},
	} {
		if r := cli(t, append(args, "--socket", d.socket)...); r.code != exitUsage {
			t.Errorf("%v: exit %d, want %d (%s)", args, r.code, exitUsage, r.stderr)
		}
	}
	if r := cli(t, "approve", "nosuchid", "--socket", d.socket); r.code != exitNotLoggedIn && r.code != exitFailed {
		t.Errorf("approve without session: exit %d", r.code)
	}
	d.login(t, uint32(os.Getuid()), "alice")
	if r := cli(t, "approve", "nosuchid", "--socket", d.socket); r.code != exitFailed || !strings.Contains(r.stderr, "no such approval request") {
		t.Errorf("unknown id: exit %d %q", r.code, r.stderr)
	}
	sock := filepath.Join(t.TempDir(), "none.sock")
	for _, args := range [][]string{{"requests"}, {"approve", "x"}, {"reject", "x", "--reason", "r"}} {
		r := cli(t, append(args, "--socket", sock)...)
		if r.code != exitFailed || !strings.Contains(r.stderr, "is it running?") || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("%v without daemon: exit %d %q", args, r.code, r.stderr)
		}
	}
}
