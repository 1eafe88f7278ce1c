package testenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
)

// PostgresInstallCommand installs the PostgreSQL server binaries on Debian.
const PostgresInstallCommand = "apt-get install -y postgresql postgresql-contrib"

// ErrPostgresNotInstalled reports that initdb, pg_ctl or postgres is missing.
var ErrPostgresNotInstalled = errors.New("postgresql server binaries not found; install them with: " + PostgresInstallCommand)

// debianPostgresRoot holds one bin directory per installed major version.
const debianPostgresRoot = "/usr/lib/postgresql"

var postgresBinaries = []string{"initdb", "pg_ctl", "postgres"}

// FindPostgres returns the directory holding initdb, pg_ctl and postgres: the
// newest /usr/lib/postgresql/<major>/bin, else the directory of initdb found
// in PATH. It returns an error wrapping ErrPostgresNotInstalled when neither
// has all three.
func FindPostgres() (string, error) {
	matches, _ := filepath.Glob(filepath.Join(debianPostgresRoot, "*", "bin"))
	sort.Slice(matches, func(i, j int) bool {
		return majorOf(matches[i]) > majorOf(matches[j])
	})
	for _, dir := range matches {
		if hasPostgresBinaries(dir) {
			return dir, nil
		}
	}
	initdb, err := exec.LookPath("initdb")
	if err == nil {
		if real, err := filepath.EvalSymlinks(initdb); err == nil {
			if dir := filepath.Dir(real); hasPostgresBinaries(dir) {
				return dir, nil
			}
		}
	}
	return "", fmt.Errorf("find postgres: looked in %s/*/bin and PATH: %w", debianPostgresRoot, ErrPostgresNotInstalled)
}

// majorOf parses the version directory of /usr/lib/postgresql/<major>/bin.
func majorOf(binDir string) float64 {
	v, err := strconv.ParseFloat(filepath.Base(filepath.Dir(binDir)), 64)
	if err != nil {
		return -1
	}
	return v
}

func hasPostgresBinaries(dir string) bool {
	for _, name := range postgresBinaries {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			return false
		}
	}
	return true
}

// osUser is the OS account the server binaries run as. PostgreSQL refuses to
// run as root, so a root process switches to the Debian postgres user.
type osUser struct {
	name     string
	uid, gid uint32
	switched bool // true when the binaries run under another uid than ours
}

func postgresOSUser() (osUser, error) {
	if os.Geteuid() != 0 {
		return osUser{uid: uint32(os.Geteuid()), gid: uint32(os.Getegid())}, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return osUser{}, fmt.Errorf("look up postgres OS user (running as root, PostgreSQL refuses root; %s creates it): %w", PostgresInstallCommand, err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return osUser{}, fmt.Errorf("parse uid of postgres: %w", err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return osUser{}, fmt.Errorf("parse gid of postgres: %w", err)
	}
	return osUser{name: "postgres", uid: uint32(uid), gid: uint32(gid), switched: true}, nil
}

// chown gives path to the server's OS user; a no-op when we are that user.
func (u osUser) chown(path string) error {
	if !u.switched {
		return nil
	}
	if err := os.Chown(path, int(u.uid), int(u.gid)); err != nil {
		return fmt.Errorf("chown %s to postgres: %w", path, err)
	}
	return nil
}

// run executes a server binary as u and returns its combined output in
// the error when it fails.
func (u osUser) run(ctx context.Context, binDir, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, name), args...)
	cmd.Env = []string{"PATH=" + binDir + ":/usr/bin:/bin", "LC_ALL=C", "TZ=UTC"}
	if u.switched {
		cmd.SysProcAttr = &syscall.SysProcAttr{
			Credential: &syscall.Credential{Uid: u.uid, Gid: u.gid, Groups: []uint32{}},
		}
	}
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return nil
}

// checkTraversable fails when the server's OS user cannot reach dir, e.g.
// a TMPDIR under /root while the server runs as postgres.
func (u osUser) checkTraversable(dir string) error {
	if !u.switched {
		return nil
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("resolve %s: %w", dir, err)
	}
	for d := abs; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return fmt.Errorf("stat %s: %w", d, err)
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		traversable := fi.Mode()&0o001 != 0 ||
			(ok && st.Uid == u.uid && fi.Mode()&0o100 != 0) ||
			(ok && st.Gid == u.gid && fi.Mode()&0o010 != 0)
		if !traversable {
			return fmt.Errorf("postgres OS user cannot traverse %s (set PostgresOptions.BaseDir, e.g. /tmp)", d)
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}
