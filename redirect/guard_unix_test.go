package redirect

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/interlock-dev/interlock/testenv"
)

// The database's unix socket on this host: only interlockd (marked socket)
// and allowed cgroups connect; everyone else in the enforcement cgroup is
// refused (enforce) or reported (monitor), however they name the path.
func TestGuardUnixSocket(t *testing.T) {
	requireGuard(t)
	pg := testenv.NewPostgres(t, testenv.PostgresOptions{})
	sock := filepath.Join(pg.SocketDir, ".s.PGSQL."+strconv.Itoa(int(pg.Port)))
	// The same socket through a symlinked directory.
	aliasDir := filepath.Join(t.TempDir(), "pg")
	if err := os.Symlink(pg.SocketDir, aliasDir); err != nil {
		t.Fatal(err)
	}
	alias := filepath.Join(aliasDir, filepath.Base(sock))
	// An unprotected socket next to it.
	otherDir, err := os.MkdirTemp("", "interlock-unix-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(otherDir) })
	if err := os.Chmod(otherDir, 0o755); err != nil {
		t.Fatal(err)
	}
	otherPath := filepath.Join(otherDir, "other.sock")
	other, err := net.Listen("unix", otherPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	if err := os.Chmod(otherPath, 0o777); err != nil {
		t.Fatal(err)
	}

	for _, mode := range []GuardMode{GuardEnforce, GuardMonitor} {
		t.Run(string(mode), func(t *testing.T) {
			e := newGuardWorld(t)
			allowed := e.cg.NewChild(t)
			e.install(t, GuardConfig{Mode: mode, UnixSockets: []string{sock}, UnixAllowCgroups: []string{allowed.Path}})
			blockedErr, action := "EPERM", ActionBlocked
			if mode == GuardMonitor {
				blockedErr, action = "", ActionDetected
			}
			attacker := clientOpts{cg: e.cg, cred: nobody}
			if mode == GuardMonitor {
				// Let through, the path must also be reachable: the
				// symlink's directory is root's.
				attacker.cred = nil
			}
			cases := []struct {
				name    string
				opts    clientOpts
				req     helperReq
				wantErr string
				event   bool
			}{
				{"attacker", attacker, helperReq{Mode: "unix", Path: sock}, blockedErr, true},
				{"through a symlinked directory", attacker, helperReq{Mode: "unix", Path: alias}, blockedErr, true},
				{"the daemon (marked socket)", clientOpts{cg: e.cg}, helperReq{Mode: "unix", Path: sock, Mark: testMark}, "", false},
				{"an allowed cgroup", clientOpts{cg: allowed, cred: nobody}, helperReq{Mode: "unix", Path: sock}, "", false},
				{"outside the enforcement cgroup", clientOpts{cred: nobody}, helperReq{Mode: "unix", Path: sock}, "", false},
				{"an unprotected socket", clientOpts{cg: e.cg, cred: nobody}, helperReq{Mode: "unix", Path: otherPath}, "", false},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					cl := startClient(t, c.opts, c.req)
					if cl.resp.Err != c.wantErr {
						t.Errorf("connect %s: err %q, want %q", c.req.Path, cl.resp.Err, c.wantErr)
					}
					events := e.settle(t)
					if !c.event {
						if len(events) != 0 {
							t.Errorf("got events: %+v", events)
						}
						return
					}
					ev := only(t, events)
					checkEvent(t, ev, KindUnixSocket, action, cl, e.cg)
					wantUID := uint32(0)
					if c.opts.cred != nil {
						wantUID = c.opts.cred.Uid
					}
					if ev.Path != c.req.Path || ev.UID != wantUID || !ev.Known.Has(KnownUID|KnownGID) {
						t.Errorf("event path %q uid %d, want %q %d", ev.Path, ev.UID, c.req.Path, wantUID)
					}
				})
			}
		})
	}
}
