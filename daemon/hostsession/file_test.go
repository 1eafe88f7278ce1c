package hostsession

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/interlock-dev/interlock/testenv"
)

func readFile(t *testing.T, path string) sessionFile {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read session file: %v", err)
	}
	var f sessionFile
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("session file is not valid JSON: %v\n%s", err, b)
	}
	return f
}

func TestPersistence(t *testing.T) {
	iss := testenv.NewIssuer(t, testenv.IssuerOptions{})
	cfg := storeConfig(t, iss)
	s := openStore(t, cfg)
	for uid, sub := range map[uint32]string{1000: "alice", 1001: "bob", 1002: "carol"} {
		if _, err := s.Login(testCtx(t), uid, codeLogin(t, iss, sub)); err != nil {
			t.Fatalf("login %s: %v", sub, err)
		}
	}
	s.Logout(1002)

	fi, err := os.Stat(cfg.Path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("session file mode %04o, want 0600", fi.Mode().Perm())
	}
	di, err := os.Stat(filepath.Dir(cfg.Path))
	if err != nil {
		t.Fatal(err)
	}
	if di.Mode().Perm() != 0o700 {
		t.Errorf("session directory mode %04o, want 0700", di.Mode().Perm())
	}
	f := readFile(t, cfg.Path)
	if len(f.Sessions) != 2 || f.Sessions[0].Tokens.RefreshToken == "" {
		t.Errorf("session file %+v, want 2 sessions with refresh tokens", f)
	}

	// A new store on the same file has the same sessions.
	s.Close()
	s2 := openStore(t, cfg)
	for uid, sub := range map[uint32]string{1000: "alice", 1001: "bob"} {
		was, _ := s.Lookup(uid)
		sess, ok := s2.Lookup(uid)
		if !ok {
			t.Fatalf("uid %d lost on restart", uid)
		}
		if sess.Identity.Subject != sub || !sess.Identity.Expiry.Equal(was.Identity.Expiry) || !sess.LoginAt.Equal(was.LoginAt) || !sess.AutoRefresh {
			t.Errorf("uid %d after restart: %+v, want %+v", uid, sess, was)
		}
	}
	if _, ok := s2.Lookup(1002); ok {
		t.Error("logged-out uid 1002 is back after restart")
	}
}

func TestLoadDrops(t *testing.T) {
	iss := testenv.NewIssuer(t, testenv.IssuerOptions{})
	tests := []struct {
		name   string
		reopen func(cfg Config) Config
	}{
		{"expired", func(cfg Config) Config {
			cfg.Clock = func() time.Time { return time.Now().Add(time.Hour) }
			return cfg
		}},
		{"another audience configured", func(cfg Config) Config {
			other := testenv.NewIssuer(t, testenv.IssuerOptions{Audience: "another-api"})
			cfg.Verifier = newVerifier(t, other)
			return cfg
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := storeConfig(t, iss)
			s := openStore(t, cfg)
			if _, err := s.Login(testCtx(t), 1000, Tokens{AccessToken: mint(t, iss, testenv.MintOptions{User: "alice"})}); err != nil {
				t.Fatal(err)
			}
			s.Close()
			s2 := openStore(t, tc.reopen(cfg))
			if sess, ok := s2.Lookup(1000); ok {
				t.Errorf("session survived: %+v", sess)
			}
			if n := len(readFile(t, cfg.Path).Sessions); n != 0 {
				t.Errorf("file still has %d sessions after load", n)
			}
		})
	}
}

func TestLoadKeepsSessionWhileIssuerDown(t *testing.T) {
	iss := testenv.NewIssuer(t, testenv.IssuerOptions{})
	cfg := storeConfig(t, iss)
	s := openStore(t, cfg)
	if _, err := s.Login(testCtx(t), 1000, Tokens{AccessToken: mint(t, iss, testenv.MintOptions{User: "alice"})}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := iss.Close(); err != nil {
		t.Fatal(err)
	}
	cfg.Verifier = newVerifier(t, iss) // a fresh verifier that cannot reach discovery
	s2 := openStore(t, cfg)
	if sess, ok := s2.Lookup(1000); !ok || sess.Identity.Subject != "alice" || sess.Identity.Email != "alice@example.com" {
		t.Errorf("lookup after restart with the issuer down: %+v %v, want alice's stored session", sess, ok)
	}
}

func TestAtomicWrites(t *testing.T) {
	iss := testenv.NewIssuer(t, testenv.IssuerOptions{})
	cfg := storeConfig(t, iss)
	s := openStore(t, cfg)
	tok := Tokens{AccessToken: mint(t, iss, testenv.MintOptions{User: "alice"}), RefreshToken: strings.Repeat("r", 4096)}
	if _, err := s.Login(testCtx(t), 1, tok); err != nil {
		t.Fatal(err)
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var reads int
	var readErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			b, err := os.ReadFile(cfg.Path)
			if err == nil {
				var f sessionFile
				err = json.Unmarshal(b, &f)
			}
			if err != nil {
				readErr = err
				return
			}
			reads++
		}
	}()
	for i := range 50 {
		uid := uint32(100 + i%5)
		if _, err := s.Login(testCtx(t), uid, tok); err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			s.Logout(uid)
		}
	}
	close(stop)
	wg.Wait()
	if readErr != nil {
		t.Fatalf("a reader saw a partial session file after %d good reads: %v", reads, readErr)
	}
	if reads == 0 {
		t.Fatal("the reader never read the file")
	}
	ents, err := os.ReadDir(filepath.Dir(cfg.Path))
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 || ents[0].Name() != filepath.Base(cfg.Path) {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("session directory holds %v, want only %s", names, filepath.Base(cfg.Path))
	}
}

func TestSessionDirectoryChecks(t *testing.T) {
	iss := testenv.NewIssuer(t, testenv.IssuerOptions{})
	t.Run("open directory refused", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		_, err := New(testCtx(t), Config{Path: filepath.Join(dir, "sessions.json"), Verifier: newVerifier(t, iss)})
		if err == nil || !strings.Contains(err.Error(), "want 0700") {
			t.Errorf("got %v, want an error about mode 0700", err)
		}
	})
	t.Run("corrupt file moved aside", func(t *testing.T) {
		path := storeConfig(t, iss).Path
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte("{not json"), 0o600); err != nil {
			t.Fatal(err)
		}
		s := openStore(t, Config{Path: path, Verifier: newVerifier(t, iss)})
		if n := len(s.Sessions()); n != 0 {
			t.Errorf("%d sessions from a corrupt file", n)
		}
		if b, err := os.ReadFile(path + ".corrupt"); err != nil || string(b) != "{not json" {
			t.Errorf("corrupt file not kept aside: %q %v", b, err)
		}
	})
}
