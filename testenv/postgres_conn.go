package testenv

import (
	"context"
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

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
