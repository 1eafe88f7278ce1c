package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/interlock-dev/interlock/testenv"
)

// childMain is the child side of runAs: one client call, result on stdout.
func childMain(op string) int {
	c := NewClient(os.Getenv("CHILD_SOCKET"))
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out any
	var err error
	switch op {
	case "login":
		out, err = c.Login(ctx, LoginRequest{AccessToken: os.Getenv("CHILD_TOKEN")})
	case "session":
		out, err = c.Session(ctx)
		if errors.Is(err, ErrNoSession) {
			out, err = "no_session", nil
		}
	case "logout":
		out, err = c.Logout(ctx)
	default:
		err = fmt.Errorf("unknown child op %q", op)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	json.NewEncoder(os.Stdout).Encode(out)
	return 0
}

func TestLoginStatusLogout(t *testing.T) {
	e := newEnv(t, nil)
	ctx := testCtx(t)

	cfg, err := e.client.Config(ctx)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	if want := (ConfigResponse{Issuer: e.iss.URL, ClientID: e.iss.ClientID, Audience: e.iss.Audience}); *cfg != want {
		t.Errorf("config %+v, want %+v", *cfg, want)
	}
	if _, err := e.client.Session(ctx); !errors.Is(err, ErrNoSession) {
		t.Errorf("session before login: %v, want ErrNoSession", err)
	}
	sess, err := e.client.Login(ctx, LoginRequest{AccessToken: e.mint(t, testenv.MintOptions{User: "alice"}), RefreshToken: "rt"})
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	if sess.UID != uint32(os.Getuid()) || sess.Subject != "alice" || sess.Email != "alice@example.com" ||
		!slices.Equal(sess.Groups, []string{"dba", "engineering"}) || !sess.AutoRefresh || sess.Issuer != e.iss.URL {
		t.Errorf("login answered %+v", sess)
	}
	got, err := e.client.Session(ctx)
	if err != nil {
		t.Fatalf("session: %v", err)
	}
	if got.Subject != "alice" || !got.Expiry.Equal(sess.Expiry) {
		t.Errorf("session %+v, want alice expiring %s", got, sess.Expiry)
	}
	if s, ok := e.store.Lookup(uint32(os.Getuid())); !ok || s.Identity.Subject != "alice" {
		t.Errorf("store lookup of our uid: %+v %v", s, ok)
	}
	ended, err := e.client.Logout(ctx)
	if err != nil || !ended {
		t.Fatalf("logout: %v %v", ended, err)
	}
	if _, err := e.client.Session(ctx); !errors.Is(err, ErrNoSession) {
		t.Errorf("session after logout: %v, want ErrNoSession", err)
	}
	if ended, err := e.client.Logout(ctx); err != nil || ended {
		t.Errorf("second logout: %v %v, want not ended", ended, err)
	}
}

func TestSocketFiles(t *testing.T) {
	e := newEnv(t, nil)
	fi, err := os.Stat(e.socket)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != 0o666 {
		t.Errorf("socket mode %v, want a socket with 0666", fi.Mode())
	}
	di, err := os.Stat(filepath.Dir(e.socket))
	if err != nil {
		t.Fatal(err)
	}
	if di.Mode().Perm() != 0o755 {
		t.Errorf("socket directory mode %04o, want 0755", di.Mode().Perm())
	}

	t.Run("in use", func(t *testing.T) {
		_, err := New(testCtx(t), Config{SocketPath: e.socket, Store: e.store})
		if err == nil || !strings.Contains(err.Error(), "in use") {
			t.Errorf("second server on the socket: %v, want 'in use'", err)
		}
	})
	t.Run("not a socket", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "file")
		if err := os.WriteFile(path, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := New(testCtx(t), Config{SocketPath: path, Store: e.store})
		if err == nil || !strings.Contains(err.Error(), "not a socket") {
			t.Errorf("got %v, want 'not a socket'", err)
		}
	})
	t.Run("stale socket replaced", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "stale.sock")
		ln, err := net.Listen("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		ln.(*net.UnixListener).SetUnlinkOnClose(false)
		ln.Close()
		srv, err := New(testCtx(t), Config{SocketPath: path, Store: e.store})
		if err != nil {
			t.Fatalf("stale socket: %v", err)
		}
		serve(t, srv)
		if _, err := NewClient(path).Config(testCtx(t)); err != nil {
			t.Errorf("config over the replaced socket: %v", err)
		}
	})
	t.Run("removed on close", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "gone.sock")
		srv, err := New(testCtx(t), Config{SocketPath: path, Store: e.store})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- srv.Serve(ctx) }()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve after cancel: %v", err)
		}
		if err := srv.Close(); err != nil {
			t.Errorf("close after serve: %v", err)
		}
		if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("socket left behind: %v", err)
		}
	})
	t.Run("no daemon", func(t *testing.T) {
		_, err := NewClient(filepath.Join(t.TempDir(), "none.sock")).Config(testCtx(t))
		if err == nil || !strings.Contains(err.Error(), "is it running?") {
			t.Errorf("got %v, want a hint that interlockd is not running", err)
		}
	})
}

// TestPeerUID logs in from two uids: the daemon keys sessions by the uid
// the kernel reports, whatever the client sends.
func TestPeerUID(t *testing.T) {
	const nobody = 65534
	e := newEnv(t, nil)
	ctx := testCtx(t)
	childEnv := []string{"CHILD_SOCKET=" + e.socket}

	if _, err := e.client.Login(ctx, LoginRequest{AccessToken: e.mint(t, testenv.MintOptions{User: "alice"})}); err != nil {
		t.Fatal(err)
	}
	if out := runAs(t, nobody, "session", childEnv...); strings.TrimSpace(out) != `"no_session"` {
		t.Errorf("nobody's session before login: %s, want no_session", out)
	}
	out := runAs(t, nobody, "login", append(childEnv, "CHILD_TOKEN="+e.mint(t, testenv.MintOptions{User: "bob"}))...)
	var sess SessionResponse
	if err := json.Unmarshal([]byte(out), &sess); err != nil {
		t.Fatalf("child login output %q: %v", out, err)
	}
	if sess.UID != nobody || sess.Subject != "bob" {
		t.Errorf("child login answered uid %d sub %s, want %d bob", sess.UID, sess.Subject, nobody)
	}
	for uid, want := range map[uint32]string{0: "alice", nobody: "bob"} {
		if s, ok := e.store.Lookup(uid); !ok || s.Identity.Subject != want {
			t.Errorf("lookup uid %d: %+v %v, want %s", uid, s, ok, want)
		}
	}
	if out := runAs(t, nobody, "logout", childEnv...); strings.TrimSpace(out) != "true" {
		t.Errorf("nobody's logout: %s", out)
	}
	if _, ok := e.store.Lookup(nobody); ok {
		t.Error("nobody still has a session after logout")
	}
	if s, ok := e.store.Lookup(0); !ok || s.Identity.Subject != "alice" {
		t.Errorf("nobody's logout ended root's session: %+v %v", s, ok)
	}
}

func TestHandleAndPeer(t *testing.T) {
	e := newEnv(t, nil)
	e.srv.Handle("GET /v1/whoami/{name}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := PeerOf(r)
		if !ok {
			WriteError(w, http.StatusInternalServerError, CodeInternal, "no peer")
			return
		}
		WriteJSON(w, http.StatusOK, map[string]any{"uid": p.UID, "gid": p.GID, "pid": p.PID, "name": r.PathValue("name"), "root": p.IsRoot()})
	}))
	resp := rawRequest(t, e.socket, "GET /v1/whoami/x HTTP/1.1\r\nHost: i\r\nConnection: close\r\n\r\n")
	var got struct {
		UID, GID uint32
		PID      int32
		Name     string
		Root     bool
	}
	if err := json.Unmarshal([]byte(resp.body), &got); err != nil {
		t.Fatalf("whoami %d %q: %v", resp.status, resp.body, err)
	}
	if got.UID != uint32(os.Getuid()) || got.GID != uint32(os.Getgid()) || got.PID != int32(os.Getpid()) || got.Name != "x" || got.Root != (os.Getuid() == 0) {
		t.Errorf("whoami %+v, want our uid %d gid %d pid %d", got, os.Getuid(), os.Getgid(), os.Getpid())
	}
}

func TestConnectionLimit(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MaxConns, c.MaxConnsPerUID = 2, 10 })
	var held []net.Conn
	for range 2 {
		c, err := net.Dial("unix", e.socket)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	// Wait until both are accepted: a request on each is answered.
	for _, c := range held {
		if _, err := c.Write([]byte("GET /v1/config HTTP/1.1\r\nHost: i\r\n\r\n")); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 12)
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Read(buf); err != nil || string(buf) != "HTTP/1.1 200" {
			t.Fatalf("held connection: %q %v", buf, err)
		}
	}
	ctx, cancel := context.WithTimeout(testCtx(t), 300*time.Millisecond)
	defer cancel()
	c3 := NewClient(e.socket)
	defer c3.Close()
	if _, err := c3.Config(ctx); err == nil {
		t.Fatal("a third connection was served past the limit of 2")
	}
	held[0].Close()
	if _, err := c3.Config(testCtx(t)); err != nil {
		t.Errorf("after one connection closed: %v", err)
	}
	held[1].Close()
}

func TestPerUIDLimit(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MaxConnsPerUID = 2 })
	var held []net.Conn
	for range 2 {
		c, err := net.Dial("unix", e.socket)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Write([]byte("GET /v1/config HTTP/1.1\r\nHost: i\r\n\r\n")); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 12)
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Read(buf); err != nil || string(buf) != "HTTP/1.1 200" {
			t.Fatalf("held connection: %q %v", buf, err)
		}
		held = append(held, c)
	}
	// A third connection of the same uid is closed at once, not queued.
	c3, err := net.Dial("unix", e.socket)
	if err != nil {
		t.Fatal(err)
	}
	defer c3.Close()
	c3.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := c3.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("third connection of one uid: read %d bytes, err %v; want it closed", n, err)
	}
	held[0].Close()
	waitOK := time.Now().Add(10 * time.Second)
	for {
		_, err := e.client.Config(testCtx(t))
		if err == nil {
			break
		}
		if time.Now().After(waitOK) {
			t.Fatalf("after closing a held connection: %v", err)
		}
		time.Sleep(20 * time.Millisecond) // the server notices the close asynchronously
	}
}
