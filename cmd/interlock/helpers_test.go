package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/interlock-dev/interlock/daemon/control"
	"github.com/interlock-dev/interlock/daemon/hostsession"
	"github.com/interlock-dev/interlock/daemon/identity"
	"github.com/interlock-dev/interlock/testenv"
)

// childEnv makes the test binary act as the CLI (run with os.Args), its
// prompts followed by a test browser: TestTwoUIDs runs it as another uid.
const childEnv = "INTERLOCK_TEST_CLI"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		os.Exit(run(ctx, os.Args[1:], os.Stdout, newBrowser(os.Stderr)))
	}
	os.Exit(m.Run())
}

func testCtx(t *testing.T) context.Context { return testenv.Context(t, time.Minute) }

// daemon is the daemon side: issuer, session store, control socket.
type daemon struct {
	iss    *testenv.Issuer
	store  *hostsession.Store
	socket string
}

// newDaemon starts a control server; advertise sets whether GET /v1/config
// returns the issuer and client id.
func newDaemon(t *testing.T, advertise bool) *daemon {
	t.Helper()
	iss := testenv.NewIssuer(t, testenv.IssuerOptions{})
	v, err := identity.New(testCtx(t), identity.Config{Issuer: iss.URL, Audience: iss.Audience, GroupsClaim: iss.GroupsClaim})
	if err != nil {
		t.Fatal(err)
	}
	store, err := hostsession.New(testCtx(t), hostsession.Config{
		Path: filepath.Join(t.TempDir(), "state", "sessions.json"), Verifier: v, Issuer: iss.URL, ClientID: iss.ClientID,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	socket := filepath.Join(testenv.SharedTempDir(t, "interlock-cli-*"), "interlockd.sock")
	cfg := control.Config{SocketPath: socket, Store: store, Audience: iss.Audience}
	if advertise {
		cfg.Issuer, cfg.ClientID = iss.URL, iss.ClientID
	}
	srv, err := control.New(testCtx(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return &daemon{iss: iss, store: store, socket: socket}
}

// result is one CLI run.
type result struct {
	code   int
	stdout string
	stderr string
}

// cli runs the CLI in-process; its prompts go through a test browser that
// opens login URLs as a person would.
func cli(t *testing.T, args ...string) result {
	t.Helper()
	var stdout bytes.Buffer
	b := newBrowser(nil)
	code := run(testCtx(t), args, &stdout, b)
	return result{code: code, stdout: stdout.String(), stderr: b.String()}
}

// browser is the CLI's prompt writer. When the CLI prints the URL to open
// for the authorization code flow, it visits it like a browser (following
// redirects, on loopback only); the test issuer logs in at once and sends
// it to the CLI's loopback redirect.
type browser struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	tee     io.Writer
	openNow bool
	partial string
	visits  sync.WaitGroup
}

func newBrowser(tee io.Writer) *browser { return &browser{tee: tee} }

func (b *browser) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if b.tee != nil {
		b.tee.Write(p)
	}
	b.partial += string(p)
	for {
		i := strings.IndexByte(b.partial, '\n')
		if i < 0 {
			break
		}
		line := b.partial[:i]
		b.partial = b.partial[i+1:]
		switch {
		case strings.HasPrefix(line, "Open this URL in your browser"):
			b.openNow = true
		case b.openNow && strings.HasPrefix(strings.TrimSpace(line), "http"):
			b.openNow = false
			u := strings.TrimSpace(line)
			b.visits.Add(1)
			go func() {
				defer b.visits.Done()
				if err := visit(u); err != nil {
					msg := "test browser: " + err.Error() + "\n"
					b.mu.Lock()
					b.buf.WriteString(msg)
					b.mu.Unlock()
				}
			}()
		}
	}
	return len(p), nil
}

func (b *browser) String() string {
	b.visits.Wait()
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var loopbackOnly = &http.Client{
	Timeout: 30 * time.Second,
	CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if ip := net.ParseIP(req.URL.Hostname()); ip == nil || !ip.IsLoopback() {
			return errors.New("refusing non-loopback redirect to " + req.URL.Host)
		}
		if len(via) > 10 {
			return errors.New("too many redirects")
		}
		return nil
	},
}

func visit(u string) error {
	resp, err := loopbackOnly.Get(u)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return err
}

// runAs runs the CLI as uid (a copy of this test binary in child mode).
func runAs(t *testing.T, uid uint32, args ...string) result {
	t.Helper()
	testenv.RequireRoot(t)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(testenv.SharedTempDir(t, "interlock-cli-*"), "interlock.test")
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(testCtx(t), bin, args...)
	cmd.Env = []string{childEnv + "=1", "PATH=/usr/bin:/bin"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid}}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	var ee *exec.ExitError
	code := 0
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("run as uid %d: %v", uid, err)
	}
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}
