package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
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
		return nil, fmt.Errorf("check BinDir: %s lacks initdb, pg_ctl or postgres: %w", bin, ErrPostgresNotInstalled)
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
	if v6 := netip.IPv6Loopback(); o.IPv6 && !slices.Contains(o.ListenAddresses, v6) {
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
		// From here Close must stop a postmaster, even if pg_ctl is
		// interrupted after launching it.
		p.mu.Lock()
		p.started = true
		p.mu.Unlock()
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

// Close stops the server (pg_ctl stop -m immediate, then SIGKILL of the
// postmaster if that fails, removing the dynamic shared memory segments it
// leaves in /dev/shm) and removes Dir. It is safe to call twice.
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
	if p.pid == 0 {
		// Startup was interrupted before we learnt the pid.
		p.pid, _ = readPostmasterPID(p.DataDir)
	}
	stopErr := p.owner.run(ctx, p.BinDir, "pg_ctl", "stop", "-m", "immediate", "-w", "-t", "10", "-D", p.DataDir)
	if p.pid == 0 || !processAlive(p.pid) {
		return nil
	}
	p.log.Warn("pg_ctl stop failed, killing postmaster", "pid", p.pid, "err", stopErr)
	// A killed postmaster leaves its dynamic shared memory segments in
	// /dev/shm; they are removed once it is gone.
	segs := dsmSegments(p.pid)
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
	var errs []error
	for _, s := range segs {
		if err := os.Remove(s); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("remove shared memory segment of the killed postmaster: %w", err))
		}
	}
	return errors.Join(errs...)
}
