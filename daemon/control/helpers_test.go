package control

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/interlock-dev/interlock/daemon/hostsession"
	"github.com/interlock-dev/interlock/daemon/identity"
	"github.com/interlock-dev/interlock/testenv"
)

// The test binary re-executes itself as another uid to be a client whose
// SO_PEERCRED differs; childEnv selects that mode.
const childEnv = "CONTROL_TEST_CHILD"

func TestMain(m *testing.M) {
	if op := os.Getenv(childEnv); op != "" {
		os.Exit(childMain(op))
	}
	os.Exit(m.Run())
}

func testCtx(t *testing.T) context.Context { return testenv.Context(t, time.Minute) }

// env is a control server with a real session store and issuer.
type env struct {
	iss    *testenv.Issuer
	store  *hostsession.Store
	srv    *Server
	socket string
	client *Client
}

func newEnv(t *testing.T, mod func(*Config)) *env {
	t.Helper()
	iss := testenv.NewIssuer(t, testenv.IssuerOptions{})
	v, err := identity.New(testCtx(t), identity.Config{Issuer: iss.URL, Audience: iss.Audience, GroupsClaim: iss.GroupsClaim})
	if err != nil {
		t.Fatal(err)
	}
	store, err := hostsession.New(testCtx(t), hostsession.Config{
		Path:     filepath.Join(t.TempDir(), "state", "sessions.json"),
		Verifier: v, Issuer: iss.URL, ClientID: iss.ClientID,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	socket := filepath.Join(testenv.SharedTempDir(t, "interlock-control-*"), "run", "interlockd.sock")
	cfg := Config{SocketPath: socket, Store: store, Issuer: iss.URL, ClientID: iss.ClientID, Audience: iss.Audience}
	if mod != nil {
		mod(&cfg)
	}
	srv, err := New(testCtx(t), cfg)
	if err != nil {
		t.Fatalf("new control server: %v", err)
	}
	serve(t, srv)
	c := NewClient(socket)
	t.Cleanup(func() { c.Close() })
	return &env{iss: iss, store: store, srv: srv, socket: socket, client: c}
}

// serve runs srv until cleanup and checks it stopped cleanly.
func serve(t *testing.T, srv *Server) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		if err := srv.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
}

func (e *env) mint(t *testing.T, o testenv.MintOptions) string {
	t.Helper()
	tok, err := e.iss.Mint(o)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// runAs runs this test binary as uid/gid in child mode op; it returns
// stdout, failing the test on a non-zero exit.
func runAs(t *testing.T, uid uint32, op string, extraEnv ...string) string {
	t.Helper()
	testenv.RequireRoot(t)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// The go build cache is private to root: copy the binary where the
	// other uid can execute it.
	bin := filepath.Join(testenv.SharedTempDir(t, "interlock-control-*"), "control.test")
	src, err := os.Open(self)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(testCtx(t), bin)
	cmd.Env = append([]string{childEnv + "=" + op}, extraEnv...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid}}
	out, err := cmd.Output()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		t.Fatalf("child as uid %d (%s): %v\nstderr: %s", uid, op, err, ee.Stderr)
	}
	if err != nil {
		t.Fatalf("child as uid %d (%s): %v", uid, op, err)
	}
	return string(out)
}
