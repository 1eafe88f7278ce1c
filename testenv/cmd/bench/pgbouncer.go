package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/interlock-dev/interlock/testenv"
)

// startPgbouncer runs pgbouncer in session pool mode in front of the
// cluster. Clients log in as interlock_admin with its password (SCRAM) and
// pgbouncer logs in upstream as the same role, the one interlockd brokers.
// pgbouncer refuses to run as root, so as root it runs as the postgres OS
// user with its files in a directory that user owns.
func startPgbouncer(ctx context.Context, st *stack) (*target, error) {
	dir := filepath.Join(st.dir, "pgbouncer")
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, fmt.Errorf("make pgbouncer dir: %w", err)
	}
	cred, err := pgbouncerCredential()
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	userlist := filepath.Join(dir, "userlist.txt")
	ini := filepath.Join(dir, "pgbouncer.ini")
	files := map[string]string{
		userlist: pgbouncerUserlist(testenv.RoleAdmin, testenv.RoleAdminPassword),
		ini:      pgbouncerIni(st.pg.Database, st.pg.Host, st.pg.Port, port, userlist),
	}
	for path, content := range files {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			return nil, fmt.Errorf("write %s: %w", filepath.Base(path), err)
		}
	}
	if cred != nil {
		for _, p := range []string{dir, userlist, ini} {
			if err := os.Chown(p, int(cred.Uid), int(cred.Gid)); err != nil {
				return nil, fmt.Errorf("chown %s: %w", p, err)
			}
		}
	}
	if err := raiseNofile(); err != nil {
		return nil, err
	}
	cmd := exec.Command(st.tools.Pgbouncer, ini)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	c, err := startChild("pgbouncer", cmd, filepath.Join(st.dir, "pgbouncer.log"))
	if err != nil {
		return nil, err
	}
	return adminProxyTarget(ctx, st, targetPgbouncer, port, c)
}

// adminProxyTarget is the target of a proxy process c listening on
// 127.0.0.1:port in front of PostgreSQL, logged into as interlock_admin with
// its password, once it accepts connections.
func adminProxyTarget(ctx context.Context, st *stack, name string, port uint16, c *child) (*target, error) {
	t := &target{
		Name: name, Host: "127.0.0.1", Port: port, Database: st.pg.Database,
		User: testenv.RoleAdmin, Password: testenv.RoleAdminPassword, Proxy: c, close: c.Close,
	}
	if err := waitConnectable(ctx, c, t.dsn()); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, errors.Join(err, c.Close()))
	}
	return t, nil
}

// pgbouncerIni is the configuration: one database, session pooling, no
// TLS, no unix socket, logging to stderr.
func pgbouncerIni(database, pgHost string, pgPort, listenPort uint16, userlist string) string {
	lines := []string{
		"[databases]",
		fmt.Sprintf("%s = host=%s port=%d dbname=%s", database, pgHost, pgPort, database),
		"",
		"[pgbouncer]",
		"listen_addr = 127.0.0.1",
		"listen_port = " + strconv.Itoa(int(listenPort)),
		"unix_socket_dir =",
		"auth_type = scram-sha-256",
		"auth_file = " + userlist,
		"pool_mode = session",
		"max_client_conn = 200",
		"default_pool_size = 20",
		"server_tls_sslmode = disable",
		"client_tls_sslmode = disable",
		"ignore_startup_parameters = extra_float_digits",
		"pidfile =",
		"logfile =",
		"log_connections = 0",
		"log_disconnections = 0",
	}
	return strings.Join(lines, "\n") + "\n"
}

// pgbouncerUserlist holds the plain password: pgbouncer verifies the
// client's SCRAM login with it and logs in upstream with it.
func pgbouncerUserlist(user, password string) string {
	q := func(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
	return q(user) + " " + q(password) + "\n"
}

// pgbouncerCredential is the postgres OS user when running as root, else
// nil (run as ourselves).
func pgbouncerCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("look up postgres OS user (pgbouncer refuses root; install with: %s): %w", installCommand, err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("parse uid of postgres: %w", err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("parse gid of postgres: %w", err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}, nil
}

// raiseNofile sets our soft RLIMIT_NOFILE to the hard limit; children
// inherit it. Setting it explicitly also stops os/exec from restoring the
// original soft limit in children.
func raiseNofile() error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("get RLIMIT_NOFILE: %w", err)
	}
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("raise RLIMIT_NOFILE: %w", err)
	}
	return nil
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (uint16, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find free port: %w", err)
	}
	defer l.Close()
	return uint16(l.Addr().(*net.TCPAddr).Port), nil
}
