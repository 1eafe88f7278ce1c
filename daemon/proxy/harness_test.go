package proxy

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/interlock-dev/interlock/daemon/approval"
	"github.com/interlock-dev/interlock/daemon/audit"
	"github.com/interlock-dev/interlock/daemon/catalog"
	"github.com/interlock-dev/interlock/daemon/config"
	"github.com/interlock-dev/interlock/daemon/identity"
	"github.com/interlock-dev/interlock/daemon/metrics"
	"github.com/interlock-dev/interlock/daemon/recording"
	"github.com/interlock-dev/interlock/daemon/tlsca"
	"github.com/interlock-dev/interlock/daemon/upstream"
	"github.com/interlock-dev/interlock/policy"
	"github.com/interlock-dev/interlock/testenv"
)

// env is a running proxy in front of a throwaway PostgreSQL, with an OIDC
// issuer and the default policy.
type env struct {
	pg        *testenv.Postgres
	issuer    *testenv.Issuer
	srv       *Server
	addr      string
	audit     string
	log       *audit.Log
	metrics   *metrics.Metrics
	engine    *policy.Engine
	caFile    string
	approvals *approval.Service
	recDir    string
	cancel    context.CancelFunc
	served    chan struct{} // closed when Serve returns
}

type envOptions struct {
	labels   map[string]string
	upstream string // override the upstream address (e.g. a dead port)
	maxMsg   int
	tls      bool // TLS from a fresh local CA
	tlsOnly  bool // and plaintext refused
	drain    time.Duration
	// policyData is the policy's data.interlock_config.
	policyData   map[string]any
	initSQL      []string
	approvals    bool          // an approval service with a local store
	approvalMode approval.Mode // of the endpoint
	record       bool          // record sessions
}

// newEnv starts everything; tests share one PostgreSQL per call.
func newEnv(t *testing.T, o envOptions) *env {
	t.Helper()
	if testing.Short() {
		t.Skip("needs PostgreSQL; skipped with -short")
	}
	ctx := context.Background()
	e := &env{}
	e.pg = testenv.NewPostgres(t, testenv.PostgresOptions{StandardRoles: true, SampleData: true, InitSQL: o.initSQL})
	e.issuer = testenv.NewIssuer(t, testenv.IssuerOptions{})
	dir := t.TempDir()
	writePW := func(name, pw string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(pw+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	roles := []config.Role{
		{Group: "admins", User: testenv.RoleAdmin, PasswordFile: writePW("admin.pw", testenv.RoleAdminPassword)},
		{Group: "writers", User: testenv.RoleRW, PasswordFile: writePW("rw.pw", testenv.RoleRWPassword)},
		{Group: "readers", User: testenv.RoleRO, PasswordFile: writePW("ro.pw", testenv.RoleROPassword)},
	}
	up := e.pg.Addr().String()
	if o.upstream != "" {
		up = o.upstream
	}
	dialer, err := upstream.New(upstream.Config{Address: up, SSLMode: "disable", ConnectTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	e.audit = filepath.Join(dir, "audit.jsonl")
	al, err := audit.Open(ctx, audit.Config{Path: e.audit, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = al.Close() })
	e.log = al
	ver, err := identity.New(ctx, identity.Config{Issuer: e.issuer.URL, Audience: e.issuer.Audience, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	e.metrics = metrics.New()
	e.engine, err = policy.New(ctx, policy.Config{Logger: log, Observer: e.metrics.PolicyObserver(), Data: o.policyData})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.engine.Close() })
	labels := o.labels
	if labels == nil {
		labels = map[string]string{"environment": "development"}
	}
	e.srv, err = New(ctx, Config{
		Endpoints: []Endpoint{{Name: "test", Labels: labels, Listen: "127.0.0.1:0", Dialer: dialer, Roles: roles, AuthToken: true, AuthSession: true,
			Catalog: catalog.New(func(ctx context.Context, db string) (*pgconn.PgConn, error) {
				return dialer.Open(ctx, testenv.RoleRO, testenv.RoleROPassword, db, nil)
			}, log)}},
		Verifier: ver, Policy: e.engine, Audit: al, Metrics: e.metrics, Logger: log,
		MaxMessageSize: o.maxMsg, DrainTimeout: o.drain,
	})
	if err != nil {
		t.Fatal(err)
	}
	if o.approvals {
		store, err := approval.NewLocalStore(ctx, approval.LocalConfig{Path: filepath.Join(dir, "approvals", "approvals.json"), Logger: log})
		if err != nil {
			t.Fatal(err)
		}
		e.approvals, err = approval.New(ctx, approval.Config{Store: store, Audit: al, Node: "test", Logger: log})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = e.approvals.Close(); _ = store.Close() })
		e.srv.cfg.Approvals = e.approvals
		e.srv.cfg.Endpoints[0].ApprovalMode = o.approvalMode
	}
	if o.record {
		e.recDir = filepath.Join(dir, "sessions")
		rec, err := recording.New(ctx, recording.Config{Dir: e.recDir, Logger: log})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = rec.Close() })
		e.srv.cfg.Recorder = rec
		e.srv.cfg.Endpoints[0].Record = true
	}
	if o.tls || o.tlsOnly {
		ca, err := tlsca.LoadOrCreate(filepath.Join(dir, "ca"))
		if err != nil {
			t.Fatal(err)
		}
		cert, err := ca.Issue([]string{"localhost"}, []netip.Addr{netip.MustParseAddr("127.0.0.1")})
		if err != nil {
			t.Fatal(err)
		}
		e.caFile = filepath.Join(dir, "ca", tlsca.CertFile)
		e.srv.cfg.Endpoints[0].TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
		e.srv.cfg.Endpoints[0].RequireTLS = o.tlsOnly
	}
	sctx, cancel := context.WithCancel(ctx)
	e.cancel = cancel
	done := make(chan struct{})
	go func() { _ = e.srv.Serve(sctx); close(done) }()
	e.served = done
	t.Cleanup(func() { cancel(); <-done })
	e.addr = e.srv.Addr("test").String()
	return e
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p))
	return len(p), nil
}

// token mints a token for sub in groups.
func (e *env) token(t *testing.T, sub string, groups ...string) string {
	t.Helper()
	tok, err := e.issuer.Mint(testenv.MintOptions{Subject: sub, Email: sub + "@example.com", Groups: groups})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// dsn is a libpq connection string to the proxy with password as the password.
func (e *env) dsn(password string) string { return e.dsnSSL(password, "disable") }

func (e *env) dsnSSL(password, sslmode string) string {
	host, port := splitHostPort(e.addr)
	return "host=" + host + " port=" + port + " user=anyone dbname=" + e.pg.Database + " sslmode=" + sslmode + " password=" + password
}

// connect opens a pgx connection through the proxy as sub in groups.
func (e *env) connect(t *testing.T, sub string, groups ...string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, e.dsn(e.token(t, sub, groups...)))
	if err != nil {
		t.Fatalf("connect through proxy as %s %v: %v", sub, groups, err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

// direct opens a superuser connection straight to PostgreSQL.
func (e *env) direct(t *testing.T) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(context.Background(), e.pg.SuperuserDSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

func splitHostPort(a string) (string, string) {
	for i := len(a) - 1; i >= 0; i-- {
		if a[i] == ':' {
			return a[:i], a[i+1:]
		}
	}
	return a, ""
}
