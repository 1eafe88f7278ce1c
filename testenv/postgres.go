package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgresOptions configures a throwaway cluster. The zero value is usable.
type PostgresOptions struct {
	// Database is created at startup and is the default for Exec, DSN and
	// SuperuserDSN. Default "interlock".
	Database string
	// Superuser is the bootstrap superuser. Default "postgres".
	Superuser string
	// SuperuserPassword is the superuser's password for TCP logins.
	// Default: random, readable from Postgres.SuperuserPassword.
	SuperuserPassword string
	// StandardRoles creates interlock_ro, interlock_rw and interlock_admin
	// with their grants (see StandardRoles).
	StandardRoles bool
	// Roles are extra roles, created after the standard ones.
	Roles []Role
	// SampleData loads SampleSQL into Database (as interlock_admin when
	// StandardRoles is set, so that role owns the tables).
	SampleData bool
	// InitSQL runs last, in order, as the superuser in Database. An entry
	// may hold several statements.
	InitSQL []string
	// ListenAddresses the server accepts TCP on. Default 127.0.0.1.
	ListenAddresses []netip.Addr
	// IPv6 adds ::1 to ListenAddresses.
	IPv6 bool
	// Port to listen on. Default: a free random port.
	Port uint16
	// MaxConnections sets max_connections. Default 200.
	MaxConnections int
	// Config holds extra postgresql.conf lines, appended after ours so
	// they override them, e.g. "log_statement = 'all'".
	Config []string
	// HBA holds extra pg_hba.conf lines, placed before ours (first match
	// wins), e.g. "host all md5user 127.0.0.1/32 md5".
	HBA []string
	// BinDir holds initdb, pg_ctl and postgres. Default: FindPostgres.
	BinDir string
	// BaseDir is where the cluster's temporary directory is made.
	// Default os.TempDir(). It must be reachable by the postgres OS user
	// when running as root.
	BaseDir string
	// Logger receives lifecycle messages. Default slog.Default().
	Logger *slog.Logger
}

// Postgres is a running throwaway cluster. Its exported fields are read-only.
type Postgres struct {
	// Host is the first listen address, e.g. "127.0.0.1".
	Host string
	// Port is the TCP port, shared by all listen addresses and the socket.
	Port uint16
	// Database is the database made at startup.
	Database string
	// Superuser and SuperuserPassword log in as the superuser.
	Superuser         string
	SuperuserPassword string
	// Dir is the temporary directory holding everything below; Close removes it.
	Dir string
	// DataDir is the cluster's data directory.
	DataDir string
	// SocketDir holds the unix socket .s.PGSQL.<Port>.
	SocketDir string
	// LogFile is the server log.
	LogFile string
	// BinDir holds the server binaries used.
	BinDir string
	// ListenAddresses are the TCP addresses the server accepts on.
	ListenAddresses []netip.Addr

	owner   osUser
	log     *slog.Logger
	mu      sync.Mutex
	pid     int
	started bool
	closed  bool
	err     error
}

const (
	pgConfInclude   = "testenv.conf"
	pgStartAttempts = 5
	pgStopTimeout   = 15 * time.Second
)

// StartPostgres initialises and starts a cluster in a new temporary
// directory, then creates the database, roles, sample data and InitSQL.
// ctx bounds the startup only. On error nothing is left behind.
func StartPostgres(ctx context.Context, opts PostgresOptions) (*Postgres, error) {
	opts = opts.withDefaults()
	bin := opts.BinDir
	if bin == "" {
		var err error
		if bin, err = FindPostgres(); err != nil {
			return nil, err
		}
	} else if !hasPostgresBinaries(bin) {
		return nil, fmt.Errorf("start postgres: %s lacks initdb, pg_ctl or postgres: %w", bin, ErrPostgresNotInstalled)
	}
	owner, err := postgresOSUser()
	if err != nil {
		return nil, err
	}
	if err := owner.checkTraversable(opts.BaseDir); err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	dir, err := os.MkdirTemp(opts.BaseDir, "interlock-pg-")
	if err != nil {
		return nil, fmt.Errorf("make postgres dir: %w", err)
	}
	p := &Postgres{
		Database:          opts.Database,
		Superuser:         opts.Superuser,
		SuperuserPassword: opts.SuperuserPassword,
		Dir:               dir,
		DataDir:           filepath.Join(dir, "data"),
		SocketDir:         dir,
		LogFile:           filepath.Join(dir, "postgres.log"),
		BinDir:            bin,
		ListenAddresses:   opts.ListenAddresses,
		Host:              opts.ListenAddresses[0].String(),
		owner:             owner,
		log:               opts.Logger.With("component", "testenv.postgres", "dir", dir),
	}
	if err := p.start(ctx, opts); err != nil {
		return nil, errors.Join(err, p.Close())
	}
	if err := p.provision(ctx, opts); err != nil {
		return nil, errors.Join(fmt.Errorf("provision postgres (log %s): %w", p.LogFile, err), p.Close())
	}
	return p, nil
}

func (o PostgresOptions) withDefaults() PostgresOptions {
	if o.Database == "" {
		o.Database = "interlock"
	}
	if o.Superuser == "" {
		o.Superuser = "postgres"
	}
	if o.SuperuserPassword == "" {
		o.SuperuserPassword = randomHex(16)
	}
	if len(o.ListenAddresses) == 0 {
		o.ListenAddresses = []netip.Addr{netip.MustParseAddr("127.0.0.1")}
	} else {
		o.ListenAddresses = append([]netip.Addr(nil), o.ListenAddresses...)
	}
	if v6 := netip.IPv6Loopback(); o.IPv6 && !containsAddr(o.ListenAddresses, v6) {
		o.ListenAddresses = append(o.ListenAddresses, v6)
	}
	if o.MaxConnections == 0 {
		o.MaxConnections = 200
	}
	if o.BaseDir == "" {
		o.BaseDir = os.TempDir()
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

func containsAddr(addrs []netip.Addr, a netip.Addr) bool {
	for _, b := range addrs {
		if a == b {
			return true
		}
	}
	return false
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// start runs initdb, writes the configuration and starts the server,
// retrying on another port when a random port was taken meanwhile.
func (p *Postgres) start(ctx context.Context, opts PostgresOptions) error {
	began := time.Now()
	if err := os.Chmod(p.Dir, 0o711); err != nil {
		return fmt.Errorf("chmod postgres dir: %w", err)
	}
	if err := p.owner.chown(p.Dir); err != nil {
		return err
	}
	if err := p.initdb(ctx); err != nil {
		return err
	}
	if err := p.writeHBA(opts.HBA); err != nil {
		return err
	}
	if err := p.includeConfig(); err != nil {
		return err
	}
	for attempt := 1; ; attempt++ {
		port := opts.Port
		if port == 0 {
			var err error
			if port, err = freePort(p.ListenAddresses); err != nil {
				return err
			}
		}
		if err := p.writeConfig(port, opts); err != nil {
			return err
		}
		err := p.owner.run(ctx, p.BinDir, "pg_ctl", "start", "-w", "-t", strconv.Itoa(startTimeout(ctx)),
			"-D", p.DataDir, "-l", p.LogFile)
		if err == nil {
			p.Port = port
			break
		}
		if opts.Port != 0 || attempt == pgStartAttempts || !p.logMentions("could not bind", "could not create any TCP/IP sockets") {
			return fmt.Errorf("start postgres (log %s): %w\n%s", p.LogFile, err, p.LogTail(20))
		}
		p.log.Debug("postgres port taken, retrying", "port", port)
	}
	p.mu.Lock()
	p.started = true
	p.mu.Unlock()
	pid, err := readPostmasterPID(p.DataDir)
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.pid = pid
	p.mu.Unlock()
	if err := p.waitReady(ctx); err != nil {
		return err
	}
	p.log.Info("postgres started", "addr", p.Addr(), "pid", pid, "took", time.Since(began).Round(time.Millisecond))
	return nil
}

// startTimeout is the pg_ctl -t value in seconds, from ctx's deadline.
func startTimeout(ctx context.Context) int {
	if d, ok := ctx.Deadline(); ok {
		return max(1, int(time.Until(d).Seconds()))
	}
	return 60
}

func (p *Postgres) initdb(ctx context.Context) error {
	pwfile := filepath.Join(p.Dir, "pwfile")
	if err := os.WriteFile(pwfile, []byte(p.SuperuserPassword+"\n"), 0o600); err != nil {
		return fmt.Errorf("write pwfile: %w", err)
	}
	defer os.Remove(pwfile)
	if err := p.owner.chown(pwfile); err != nil {
		return err
	}
	return p.owner.run(ctx, p.BinDir, "initdb",
		"-D", p.DataDir, "-U", p.Superuser, "--pwfile", pwfile,
		"--auth-local=trust", "--auth-host=scram-sha-256",
		"-E", "UTF8", "--no-locale", "--no-sync", "--no-instructions")
}

// writeHBA allows the superuser on the socket without a password and
// requires SCRAM for every other socket login and for all TCP logins.
func (p *Postgres) writeHBA(extra []string) error {
	lines := append([]string{"# written by testenv"}, extra...)
	lines = append(lines,
		"local all "+hbaQuote(p.Superuser)+" trust",
		"local all all scram-sha-256",
		"host all all 0.0.0.0/0 scram-sha-256",
		"host all all ::/0 scram-sha-256",
	)
	return p.writeFile(filepath.Join(p.DataDir, "pg_hba.conf"), strings.Join(lines, "\n")+"\n")
}

func hbaQuote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

func (p *Postgres) writeConfig(port uint16, opts PostgresOptions) error {
	addrs := make([]string, len(p.ListenAddresses))
	for i, a := range p.ListenAddresses {
		addrs[i] = a.String()
	}
	lines := []string{
		"# written by testenv",
		"listen_addresses = " + quoteLiteral(strings.Join(addrs, ",")),
		"port = " + strconv.Itoa(int(port)),
		"unix_socket_directories = " + quoteLiteral(p.SocketDir),
		"max_connections = " + strconv.Itoa(opts.MaxConnections),
		"shared_buffers = '32MB'",
		"fsync = off",
		"full_page_writes = off",
		"synchronous_commit = off",
		"password_encryption = 'scram-sha-256'",
		"logging_collector = off",
		"log_line_prefix = '%m [%p] %q%u@%d '",
		"timezone = 'UTC'",
		"log_timezone = 'UTC'",
		"datestyle = 'iso, mdy'",
		"lc_messages = 'C'",
	}
	lines = append(lines, opts.Config...)
	return p.writeFile(filepath.Join(p.DataDir, pgConfInclude), strings.Join(lines, "\n")+"\n")
}

// writeFile replaces path's content and gives it to the server's OS user.
func (p *Postgres) writeFile(path, content string) error {
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	return p.owner.chown(path)
}

// includeConfig makes postgresql.conf include our settings last.
func (p *Postgres) includeConfig() error {
	f, err := os.OpenFile(filepath.Join(p.DataDir, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("open postgresql.conf: %w", err)
	}
	_, err = f.WriteString("\ninclude '" + pgConfInclude + "'\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("append to postgresql.conf: %w", err)
	}
	return nil
}

// freePort finds a port free on every address.
func freePort(addrs []netip.Addr) (uint16, error) {
	for range 20 {
		l, err := net.Listen("tcp", netip.AddrPortFrom(addrs[0], 0).String())
		if err != nil {
			return 0, fmt.Errorf("find free port: %w", err)
		}
		port := uint16(l.Addr().(*net.TCPAddr).Port)
		ok := true
		var held []net.Listener
		for _, a := range addrs[1:] {
			l2, err := net.Listen("tcp", netip.AddrPortFrom(a, port).String())
			if err != nil {
				ok = false
				break
			}
			held = append(held, l2)
		}
		for _, h := range held {
			h.Close()
		}
		l.Close()
		if ok {
			return port, nil
		}
	}
	return 0, fmt.Errorf("find free port on %v: none free on all addresses", addrs)
}

func readPostmasterPID(dataDir string) (int, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		return 0, fmt.Errorf("read postmaster.pid: %w", err)
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil {
		return 0, fmt.Errorf("parse postmaster.pid: %w", err)
	}
	return pid, nil
}

// waitReady polls until the superuser can run a query over the socket.
func (p *Postgres) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		conn, err := pgx.Connect(ctx, p.SocketDSN(p.Superuser, "postgres"))
		if err == nil {
			err = conn.Ping(ctx)
			conn.Close(context.Background())
			if err == nil {
				return nil
			}
		}
		if !processAlive(p.PID()) {
			return fmt.Errorf("postgres exited during startup (log %s):\n%s", p.LogFile, p.LogTail(20))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for postgres: %w (last error: %v)", ctx.Err(), err)
		case <-tick.C:
		}
	}
}

// provision creates the database, roles, sample data and runs InitSQL.
func (p *Postgres) provision(ctx context.Context, opts PostgresOptions) error {
	if p.Database != "postgres" {
		if err := p.ExecIn(ctx, "postgres", "CREATE DATABASE "+pgx.Identifier{p.Database}.Sanitize()); err != nil {
			return fmt.Errorf("create database: %w", err)
		}
	}
	if opts.StandardRoles {
		if err := p.CreateStandardRoles(ctx); err != nil {
			return err
		}
	}
	for _, r := range opts.Roles {
		if err := p.CreateRole(ctx, r); err != nil {
			return err
		}
	}
	if opts.SampleData {
		if err := p.LoadSampleData(ctx); err != nil {
			return err
		}
	}
	for i, sql := range opts.InitSQL {
		if err := p.Exec(ctx, sql); err != nil {
			return fmt.Errorf("init sql %d: %w", i, err)
		}
	}
	return nil
}

// PID is the postmaster's process id, 0 before start.
func (p *Postgres) PID() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pid
}

// Addr is the TCP address of the first listen address.
func (p *Postgres) Addr() netip.AddrPort {
	return netip.AddrPortFrom(p.ListenAddresses[0], p.Port)
}

// Addrs are the TCP addresses of every listen address.
func (p *Postgres) Addrs() []netip.AddrPort {
	out := make([]netip.AddrPort, len(p.ListenAddresses))
	for i, a := range p.ListenAddresses {
		out[i] = netip.AddrPortFrom(a, p.Port)
	}
	return out
}

// DSN is a URL to connect as user over TCP to the first listen address.
// An empty database means p.Database.
func (p *Postgres) DSN(user, password, database string) string {
	return p.DSNFor(p.Addr(), user, password, database)
}

// DSNFor is DSN for a given address, e.g. one of Addrs.
func (p *Postgres) DSNFor(addr netip.AddrPort, user, password, database string) string {
	if database == "" {
		database = p.Database
	}
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(user, password),
		Host:     addr.String(),
		Path:     "/" + database,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// SuperuserDSN is DSN for the superuser and p.Database (SCRAM over TCP).
func (p *Postgres) SuperuserDSN() string {
	return p.DSN(p.Superuser, p.SuperuserPassword, "")
}

// SocketDSN connects as user over the unix socket; the superuser needs no
// password there, other roles need one (add password=... to the DSN).
func (p *Postgres) SocketDSN(user, database string) string {
	if database == "" {
		database = p.Database
	}
	q := url.Values{"host": {p.SocketDir}, "port": {strconv.Itoa(int(p.Port))}, "user": {user}, "sslmode": {"disable"}}
	return "postgres:///" + url.PathEscape(database) + "?" + q.Encode()
}

// Connect opens a pgx connection as user over TCP (SCRAM). An empty database
// means p.Database. The caller closes it.
func (p *Postgres) Connect(ctx context.Context, user, password, database string) (*pgx.Conn, error) {
	conn, err := pgx.Connect(ctx, p.DSN(user, password, database))
	if err != nil {
		return nil, fmt.Errorf("connect as %s: %w", user, err)
	}
	return conn, nil
}

// Exec runs sql as the superuser in p.Database. Without args, sql may hold
// several statements (simple protocol).
func (p *Postgres) Exec(ctx context.Context, sql string, args ...any) error {
	return p.ExecIn(ctx, p.Database, sql, args...)
}

// ExecIn is Exec in another database.
func (p *Postgres) ExecIn(ctx context.Context, database, sql string, args ...any) error {
	conn, err := pgx.Connect(ctx, p.SocketDSN(p.Superuser, database))
	if err != nil {
		return fmt.Errorf("connect as superuser: %w", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		return fmt.Errorf("exec: %w", err)
	}
	return nil
}

// LogTail returns up to the last n lines of the server log.
func (p *Postgres) LogTail(n int) string {
	b, err := os.ReadFile(p.LogFile)
	if err != nil {
		return fmt.Sprintf("(read %s: %v)", p.LogFile, err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func (p *Postgres) logMentions(subs ...string) bool {
	b, _ := os.ReadFile(p.LogFile)
	for _, s := range subs {
		if strings.Contains(string(b), s) {
			return true
		}
	}
	return false
}

// Close stops the server (pg_ctl stop -m immediate, then SIGKILL of the
// postmaster if that fails) and removes Dir. It is safe to call twice.
func (p *Postgres) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return p.err
	}
	p.closed = true
	var errs []error
	if p.started {
		if err := p.stop(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := os.RemoveAll(p.Dir); err != nil {
		errs = append(errs, fmt.Errorf("remove postgres dir: %w", err))
	}
	p.err = errors.Join(errs...)
	if p.err == nil {
		p.log.Debug("postgres stopped")
	}
	return p.err
}

// stop is called with p.mu held.
func (p *Postgres) stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), pgStopTimeout)
	defer cancel()
	stopErr := p.owner.run(ctx, p.BinDir, "pg_ctl", "stop", "-m", "immediate", "-w", "-t", "10", "-D", p.DataDir)
	if p.pid == 0 || !processAlive(p.pid) {
		return nil
	}
	p.log.Warn("pg_ctl stop failed, killing postmaster", "pid", p.pid, "err", stopErr)
	if err := syscall.Kill(p.pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return errors.Join(stopErr, fmt.Errorf("kill postmaster %d: %w", p.pid, err))
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for processAlive(p.pid) {
		select {
		case <-ctx.Done():
			return errors.Join(stopErr, fmt.Errorf("postmaster %d still running after SIGKILL", p.pid))
		case <-tick.C:
		}
	}
	return nil
}

// processAlive reports whether pid exists and is not a zombie.
func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name.
	i := strings.LastIndexByte(string(b), ')')
	return i < 0 || i+2 >= len(b) || b[i+2] != 'Z'
}
