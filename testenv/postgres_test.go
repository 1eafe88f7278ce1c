package testenv

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

func testCtx(t *testing.T) context.Context { return Context(t, time.Minute) }

func TestPostgresRolesAndSampleData(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	pg := NewPostgres(t, PostgresOptions{
		StandardRoles: true,
		SampleData:    true,
		IPv6:          true,
		Roles:         []Role{{Name: "reporter", Password: "it's-a-secret", Attributes: []string{"LOGIN", "CONNECTION LIMIT 5"}}},
		InitSQL:       []string{"CREATE TABLE init_marker (id int); INSERT INTO init_marker VALUES (42)"},
	})

	logins := []struct {
		user, password string
	}{
		{pg.Superuser, pg.SuperuserPassword},
		{RoleRO, RoleROPassword},
		{RoleRW, RoleRWPassword},
		{RoleAdmin, RoleAdminPassword},
		{"reporter", "it's-a-secret"},
	}
	for _, l := range logins {
		t.Run("login/"+l.user, func(t *testing.T) {
			for _, addr := range pg.Addrs() {
				conn, err := pgx.Connect(ctx, pg.DSNFor(addr, l.user, l.password, ""))
				if err != nil {
					t.Fatalf("connect to %s as %s: %v", addr, l.user, err)
				}
				var who string
				if err := conn.QueryRow(ctx, "SELECT current_user").Scan(&who); err != nil {
					t.Fatalf("query as %s: %v", l.user, err)
				}
				conn.Close(ctx)
				if who != l.user {
					t.Errorf("current_user = %q, want %q", who, l.user)
				}
			}
			_, err := pgx.Connect(ctx, pg.DSN(l.user, "wrong-password", ""))
			if code := pgCode(err); code != "28P01" {
				t.Errorf("wrong password: got err %v (code %q), want SQLSTATE 28P01", err, code)
			}
		})
	}

	t.Run("passwords stored as SCRAM", func(t *testing.T) {
		conn := mustConnect(t, pg, pg.Superuser, pg.SuperuserPassword)
		var n int
		err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_authid WHERE rolcanlogin AND rolpassword LIKE 'SCRAM-SHA-256$%'`).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		if n != len(logins) {
			t.Errorf("roles with SCRAM verifiers = %d, want %d", n, len(logins))
		}
		var method string
		err = conn.QueryRow(ctx, `SELECT auth_method FROM pg_hba_file_rules WHERE type = 'host' AND 'all' = ANY(user_name) LIMIT 1`).Scan(&method)
		if err != nil {
			t.Fatal(err)
		}
		if method != "scram-sha-256" {
			t.Errorf("host auth method = %q, want scram-sha-256", method)
		}
	})

	t.Run("sample data", func(t *testing.T) {
		conn := mustConnect(t, pg, RoleRO, RoleROPassword)
		for table, want := range map[string]int{"customers": SampleCustomers, "orders": SampleOrders, "all_types": SampleAllTypes} {
			var n int
			if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil {
				t.Fatalf("count %s: %v", table, err)
			}
			if n != want {
				t.Errorf("%s has %d rows, want %d", table, n, want)
			}
		}
		var email, ssn string
		if err := conn.QueryRow(ctx, "SELECT email, ssn FROM customers WHERE id = 1").Scan(&email, &ssn); err != nil {
			t.Fatal(err)
		}
		if email != "ada@example.com" || ssn != "123-45-6789" {
			t.Errorf("customer 1 = %q %q, want ada@example.com 123-45-6789", email, ssn)
		}
		var owner string
		if err := conn.QueryRow(ctx, "SELECT tableowner FROM pg_tables WHERE tablename = 'customers'").Scan(&owner); err != nil {
			t.Fatal(err)
		}
		if owner != RoleAdmin {
			t.Errorf("customers owner = %q, want %q", owner, RoleAdmin)
		}
	})

	privileges := []struct {
		user, password, sql string
		wantCode            string // "" = allowed
	}{
		{RoleRO, RoleROPassword, "SELECT * FROM customers", ""},
		{RoleRO, RoleROPassword, "SELECT * FROM init_marker", ""},
		{RoleRO, RoleROPassword, "INSERT INTO orders VALUES (100, 1, 'x', 1, 1, 'new', now())", "42501"},
		{RoleRO, RoleROPassword, "CREATE TABLE ro_table (id int)", "42501"},
		{RoleRW, RoleRWPassword, "UPDATE customers SET notes = 'rw' WHERE id = 2", ""},
		{RoleRW, RoleRWPassword, "INSERT INTO init_marker VALUES (1)", ""},
		{RoleRW, RoleRWPassword, "DROP TABLE orders", "42501"},
		{RoleAdmin, RoleAdminPassword, "CREATE TABLE admin_table (id int)", ""},
		{RoleAdmin, RoleAdminPassword, "SELECT * FROM init_marker", ""},
		{RoleAdmin, RoleAdminPassword, "DROP TABLE all_types", ""},
		{"reporter", "it's-a-secret", "SELECT * FROM customers", "42501"},
	}
	for _, p := range privileges {
		t.Run("privilege/"+p.user+"/"+p.sql, func(t *testing.T) {
			conn := mustConnect(t, pg, p.user, p.password)
			_, err := conn.Exec(ctx, p.sql)
			if got := pgCode(err); got != p.wantCode || (p.wantCode == "" && err != nil) {
				t.Errorf("got err %v (code %q), want code %q", err, got, p.wantCode)
			}
		})
	}

	t.Run("exec and socket", func(t *testing.T) {
		if err := pg.Exec(ctx, "CREATE TABLE e1 (id int); CREATE TABLE e2 (id int)"); err != nil {
			t.Fatalf("multi-statement exec: %v", err)
		}
		if err := pg.Exec(ctx, "INSERT INTO e1 VALUES ($1)", 7); err != nil {
			t.Fatalf("exec with args: %v", err)
		}
		if _, err := os.Stat(filepath.Join(pg.SocketDir, ".s.PGSQL."+strconv.Itoa(int(pg.Port)))); err != nil {
			t.Errorf("unix socket: %v", err)
		}
		if err := pg.Exec(ctx, "SELEC 1"); pgCode(err) != "42601" {
			t.Errorf("bad sql: got %v, want SQLSTATE 42601", err)
		}
	})
}

func TestPostgresCloseRemovesEverything(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	pg, err := StartPostgres(ctx, PostgresOptions{})
	if errors.Is(err, ErrPostgresNotInstalled) && testing.Short() {
		t.Skip(err)
	}
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	// Open a backend so there is a child process besides the auxiliary ones.
	conn := mustConnect(t, pg, pg.Superuser, pg.SuperuserPassword)
	defer conn.Close(ctx)

	pid := pg.PID()
	if !processAlive(pid) {
		t.Fatalf("postmaster %d not running after start", pid)
	}
	children := childProcesses(pid)
	if len(children) == 0 {
		t.Fatalf("postmaster %d has no children", pid)
	}
	if err := pg.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if err := pg.Close(); err != nil {
		t.Errorf("second close: %v", err)
	}
	if _, err := os.Stat(pg.Dir); !os.IsNotExist(err) {
		t.Errorf("dir %s still exists (stat err %v)", pg.Dir, err)
	}
	for _, p := range append([]int{pid}, children...) {
		if processAlive(p) {
			t.Errorf("process %d of the cluster still running after Close", p)
		}
	}
	if err := pg.Exec(ctx, "SELECT 1"); err == nil {
		t.Error("exec after close succeeded")
	}
}

func TestPostgresCloseKillsWhenPgCtlFails(t *testing.T) {
	t.Parallel()
	pg := NewPostgres(t, PostgresOptions{})
	pid := pg.PID()
	// pg_ctl stop fails without a data directory; Close must still kill
	// the postmaster.
	segs := dsmSegments(pid)
	if len(segs) == 0 {
		t.Fatalf("postmaster %d maps no /dev/shm/PostgreSQL.* segment", pid)
	}
	pg.mu.Lock()
	pg.DataDir = filepath.Join(pg.Dir, "missing")
	pg.mu.Unlock()
	if err := pg.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if processAlive(pid) {
		t.Errorf("postmaster %d still running", pid)
	}
	// PostgreSQL removes its dynamic shared memory when it shuts down but
	// not when killed: Close must.
	for _, s := range segs {
		if _, err := os.Stat(s); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("shared memory segment %s of the killed postmaster left behind (stat: %v)", s, err)
		}
	}
}

func TestPostgresStartFailures(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	base := SharedTempDir(t, "testenv-base-")
	cases := []struct {
		name    string
		opts    PostgresOptions
		wantErr string
		wantIs  error
	}{
		{"missing binaries", PostgresOptions{BinDir: t.TempDir(), BaseDir: base}, "lacks initdb", ErrPostgresNotInstalled},
		{"bad config", PostgresOptions{Config: []string{"max_connections = 'lots'"}, BaseDir: base}, "max_connections", nil},
		{"bad init sql", PostgresOptions{InitSQL: []string{"CREATE TABLEX"}, BaseDir: base}, "init sql 0", nil},
		{"bad role attribute", PostgresOptions{Roles: []Role{{Name: "x", Attributes: []string{"LOGIN; DROP"}}}, BaseDir: base}, "invalid attribute", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pg, err := StartPostgres(ctx, c.opts)
			if err == nil {
				pg.Close()
				t.Fatal("start succeeded, want error")
			}
			if !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("error %q does not mention %q", err, c.wantErr)
			}
			if c.wantIs != nil && !errors.Is(err, c.wantIs) {
				t.Errorf("error %v is not %v", err, c.wantIs)
			}
			if c.wantIs == ErrPostgresNotInstalled && !strings.Contains(err.Error(), PostgresInstallCommand) {
				t.Errorf("error %q does not name the install command", err)
			}
			entries, _ := os.ReadDir(base)
			if len(entries) != 0 {
				t.Errorf("failed start left %d entries in %s", len(entries), base)
			}
		})
	}
}

func TestPostgresFixedPortAndDatabase(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	port, err := freePort([]netip.Addr{netip.MustParseAddr("127.0.0.1")})
	if err != nil {
		t.Fatal(err)
	}
	pg := NewPostgres(t, PostgresOptions{Port: port, Database: "other db", SuperuserPassword: "pw"})
	if pg.Port != port {
		t.Errorf("port = %d, want %d", pg.Port, port)
	}
	conn, err := pgx.Connect(ctx, pg.SuperuserDSN())
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	var db string
	if err := conn.QueryRow(ctx, "SELECT current_database()").Scan(&db); err != nil {
		t.Fatal(err)
	}
	if db != "other db" {
		t.Errorf("database = %q, want %q", db, "other db")
	}
}

func TestFindPostgres(t *testing.T) {
	dir, err := FindPostgres()
	if errors.Is(err, ErrPostgresNotInstalled) && testing.Short() {
		t.Skip(err)
	}
	if err != nil {
		t.Fatalf("find postgres: %v", err)
	}
	if !hasPostgresBinaries(dir) {
		t.Errorf("%s lacks the server binaries", dir)
	}
	matches, _ := filepath.Glob(filepath.Join(debianPostgresRoot, "*", "bin", "initdb"))
	for _, m := range matches {
		if majorOf(filepath.Dir(m)) > majorOf(dir) {
			t.Errorf("found %s, but %s is newer", dir, m)
		}
	}
}

func TestCheckTraversable(t *testing.T) {
	// Another uid than ours, as when root runs the server as postgres.
	other := osUser{uid: 65534, gid: 65534, switched: true}
	private := t.TempDir() // 0700, owned by us
	if err := other.checkTraversable(private); err == nil {
		t.Errorf("checkTraversable(%s) = nil, want error", private)
	}
	if err := other.checkTraversable(SharedTempDir(t, "testenv-base-")); err != nil {
		t.Errorf("checkTraversable(shared dir) = %v, want nil", err)
	}
	if err := (osUser{}).checkTraversable(private); err != nil {
		t.Errorf("checkTraversable as ourselves = %v, want nil", err)
	}
}

func mustConnect(t *testing.T, pg *Postgres, user, password string) *pgx.Conn {
	t.Helper()
	conn, err := pg.Connect(testCtx(t), user, password, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func pgCode(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}

// fatalTB records Fatalf and Skipf instead of ending the real test.
type fatalTB struct {
	testing.TB
	msg     string
	skipped bool
}

func (f *fatalTB) Helper()           {}
func (f *fatalTB) Cleanup(fn func()) { f.TB.Cleanup(fn) }
func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}
func (f *fatalTB) Skipf(format string, args ...any) {
	f.msg, f.skipped = fmt.Sprintf(format, args...), true
	runtime.Goexit()
}

func TestNewPostgresFailsWhenMissing(t *testing.T) {
	fake := &fatalTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		NewPostgres(fake, PostgresOptions{BinDir: t.TempDir()})
	}()
	<-done
	if fake.skipped != testing.Short() {
		t.Errorf("skipped = %v in short mode %v: only -short may skip", fake.skipped, testing.Short())
	}
	if !strings.Contains(fake.msg, PostgresInstallCommand) {
		t.Errorf("message %q does not name %q", fake.msg, PostgresInstallCommand)
	}
}
