package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/interlock-dev/interlock/daemon/control"
)

// TestLoginFlows logs in end to end with both flows, then checks status
// and logout.
func TestLoginFlows(t *testing.T) {
	d := newDaemon(t, true)
	tests := []struct {
		name       string
		args       []string
		sub        string
		wantGroups []string
	}{
		{"auth code + PKCE", []string{"login", "--no-browser"}, "alice", []string{"dba", "engineering"}},
		{"device", []string{"login", "--device"}, "bob", []string{"engineering"}},
		{"auth code, flags instead of daemon config", nil, "carol", []string{"analysts"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := tc.args
			if args == nil {
				args = []string{"login", "--no-browser", "--issuer", d.iss.URL, "--client-id", d.iss.ClientID}
			}
			args = append(args, "--socket", d.socket)
			var approved chan error
			if slices.Contains(args, "--device") {
				approved = make(chan error, 1)
				go func() {
					code, err := d.iss.WaitDeviceCode(testCtx(t))
					if err == nil {
						err = d.iss.ApproveDevice(code, tc.sub)
					}
					approved <- err
				}()
			} else if err := d.iss.SetLoginUser(tc.sub); err != nil {
				t.Fatal(err)
			}
			r := cli(t, args...)
			if approved != nil {
				if err := <-approved; err != nil {
					t.Fatalf("approve device: %v", err)
				}
			}
			if r.code != exitOK {
				t.Fatalf("login exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
			}
			wantLine := "Logged in as " + tc.sub + " <" + tc.sub + "@example.com>; groups: " + strings.Join(tc.wantGroups, ", ")
			if !strings.HasPrefix(r.stdout, wantLine) || !strings.Contains(r.stdout, "auto-refresh on") {
				t.Errorf("login printed %q, want %q... auto-refresh on", r.stdout, wantLine)
			}
			if slices.Contains(args, "--device") && !regexp.MustCompile(`enter the code: \S+`).MatchString(r.stderr) {
				t.Errorf("device login prompt lacks the user code:\n%s", r.stderr)
			}
			if sess, ok := d.store.Lookup(uint32(os.Getuid())); !ok || sess.Identity.Subject != tc.sub {
				t.Errorf("daemon has %+v %v for our uid, want %s", sess, ok, tc.sub)
			}

			st := cli(t, "status", "--socket", d.socket)
			if st.code != exitOK || !strings.Contains(st.stdout, "Logged in as "+tc.sub) ||
				!strings.Contains(st.stdout, strings.Join(tc.wantGroups, ", ")) || !strings.Contains(st.stdout, "auto-refresh:  on") {
				t.Errorf("status exit %d:\n%s%s", st.code, st.stdout, st.stderr)
			}
			js := cli(t, "status", "--json", "--socket", d.socket)
			var sess control.SessionResponse
			if err := json.Unmarshal([]byte(js.stdout), &sess); err != nil {
				t.Fatalf("status --json: %v\n%s", err, js.stdout)
			}
			if sess.Subject != tc.sub || sess.Email != tc.sub+"@example.com" || !slices.Equal(sess.Groups, tc.wantGroups) ||
				!sess.AutoRefresh || sess.UID != uint32(os.Getuid()) || sess.Expiry.IsZero() {
				t.Errorf("status --json: %+v", sess)
			}

			out := cli(t, "logout", "--socket", d.socket)
			if out.code != exitOK || strings.TrimSpace(out.stdout) != "Logged out." {
				t.Errorf("logout exit %d: %q %q", out.code, out.stdout, out.stderr)
			}
			if _, ok := d.store.Lookup(uint32(os.Getuid())); ok {
				t.Error("daemon still has a session after logout")
			}
			st = cli(t, "status", "--socket", d.socket)
			if st.code != exitNotLoggedIn || !strings.Contains(st.stderr, "not logged in") {
				t.Errorf("status after logout: exit %d %q", st.code, st.stderr)
			}
		})
	}
}

// TestTwoUIDs: two users on one host get two identities; the daemon
// tells them apart by SO_PEERCRED.
func TestTwoUIDs(t *testing.T) {
	const nobody = 65534
	d := newDaemon(t, true)
	if err := d.iss.SetLoginUser("alice"); err != nil {
		t.Fatal(err)
	}
	if r := cli(t, "login", "--no-browser", "--socket", d.socket); r.code != exitOK {
		t.Fatalf("root login: %d %s", r.code, r.stderr)
	}
	if err := d.iss.SetLoginUser("carol"); err != nil {
		t.Fatal(err)
	}
	r := runAs(t, nobody, "login", "--no-browser", "--socket", d.socket)
	if r.code != exitOK || !strings.HasPrefix(r.stdout, "Logged in as carol") {
		t.Fatalf("nobody's login: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	r = runAs(t, nobody, "status", "--json", "--socket", d.socket)
	var sess control.SessionResponse
	if err := json.Unmarshal([]byte(r.stdout), &sess); err != nil {
		t.Fatalf("nobody's status: %v\n%s%s", err, r.stdout, r.stderr)
	}
	if sess.UID != nobody || sess.Subject != "carol" {
		t.Errorf("nobody's status: uid %d sub %s, want %d carol", sess.UID, sess.Subject, nobody)
	}
	for uid, want := range map[uint32]string{0: "alice", nobody: "carol"} {
		if s, ok := d.store.Lookup(uid); !ok || s.Identity.Subject != want {
			t.Errorf("daemon: uid %d is %+v %v, want %s", uid, s, ok, want)
		}
	}
	if r := runAs(t, nobody, "logout", "--socket", d.socket); r.code != exitOK {
		t.Errorf("nobody's logout: %d %s", r.code, r.stderr)
	}
	if s, ok := d.store.Lookup(0); !ok || s.Identity.Subject != "alice" {
		t.Errorf("nobody's logout touched root's session: %+v %v", s, ok)
	}
}

func TestLoginErrors(t *testing.T) {
	d := newDaemon(t, true)
	bare := newDaemon(t, false) // advertises no issuer
	t.Setenv(control.SocketEnv, d.socket)

	t.Run("denied at the provider", func(t *testing.T) {
		d.iss.DenyLogins(true)
		defer d.iss.DenyLogins(false)
		r := cli(t, "login", "--no-browser")
		if r.code != exitFailed || !strings.Contains(r.stderr, "interlock login: the identity provider denied the login\n") {
			t.Errorf("exit %d, stderr %q", r.code, r.stderr)
		}
	})
	t.Run("device denied", func(t *testing.T) {
		go func() {
			if code, err := d.iss.WaitDeviceCode(testCtx(t)); err == nil {
				d.iss.DenyDevice(code)
			}
		}()
		r := cli(t, "login", "--device")
		if r.code != exitFailed || !strings.Contains(r.stderr, "interlock login: the identity provider denied the login\n") {
			t.Errorf("exit %d, stderr %q", r.code, r.stderr)
		}
	})
	t.Run("daemon without issuer", func(t *testing.T) {
		r := cli(t, "login", "--no-browser", "--socket", bare.socket)
		if r.code != exitFailed || !strings.Contains(r.stderr, "pass --issuer and --client-id") {
			t.Errorf("exit %d, stderr %q", r.code, r.stderr)
		}
	})
	t.Run("wrong client id", func(t *testing.T) {
		r := cli(t, "login", "--no-browser", "--client-id", "nope", "--issuer", d.iss.URL, "--timeout", "1s")
		if r.code != exitFailed {
			t.Errorf("exit %d, stderr %q", r.code, r.stderr)
		}
	})
	t.Run("no daemon", func(t *testing.T) {
		sock := filepath.Join(t.TempDir(), "none.sock")
		for _, args := range [][]string{{"login"}, {"status"}, {"logout"}} {
			r := cli(t, append(args, "--socket", sock)...)
			if r.code != exitFailed || !strings.Contains(r.stderr, "is it running?") || strings.Count(r.stderr, "\n") != 1 {
				t.Errorf("%v: exit %d, stderr %q, want one line saying interlockd is not running", args, r.code, r.stderr)
			}
		}
	})
	t.Run("socket from the environment", func(t *testing.T) {
		if r := cli(t, "logout"); r.code != exitOK || strings.TrimSpace(r.stdout) != "Not logged in." {
			t.Errorf("logout via %s: exit %d %q %q", control.SocketEnv, r.code, r.stdout, r.stderr)
		}
	})
	t.Run("usage", func(t *testing.T) {
		for _, args := range [][]string{{"login", "--bogus"}, {"status", "extra"}, {"logout", "--device"}, {"nothing"}, {}} {
			if r := cli(t, args...); r.code != exitUsage {
				t.Errorf("%v: exit %d, want %d", args, r.code, exitUsage)
			}
		}
	})
	t.Run("audit verify still dispatched", func(t *testing.T) {
		r := cli(t, "audit", "verify")
		if r.code != exitUsage || !strings.Contains(r.stderr, "usage: interlock audit verify") {
			t.Errorf("exit %d, stderr %q", r.code, r.stderr)
		}
	})
}
