package proxy

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/interlock-dev/interlock/daemon/audit"
	"github.com/interlock-dev/interlock/daemon/identity"
	"github.com/interlock-dev/interlock/daemon/metrics"
	"github.com/interlock-dev/interlock/daemon/pgwire"
	"github.com/interlock-dev/interlock/policy"
)

// hotSession builds a session whose frontend path can be driven without a
// network: upstream writes are discarded and the audit log is a real file.
func hotSession(tb testing.TB) *session {
	tb.Helper()
	return newSession(hotServer(tb))
}

// hotServer is a Server with a real policy engine and audit log but no
// listeners.
func hotServer(tb testing.TB) *Server {
	tb.Helper()
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	al, err := audit.Open(ctx, audit.Config{Path: filepath.Join(tb.TempDir(), "audit.jsonl"), Logger: log})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = al.Close() })
	m := metrics.New()
	eng, err := policy.New(ctx, policy.Config{Logger: log, Observer: m.PolicyObserver()})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = eng.Close() })
	return &Server{cfg: Config{Policy: eng, Audit: al, Metrics: m, Logger: log, MaxStatementBytes: 4096}, log: log}
}

// newSession is a session of srv with a discarding client and upstream.
func newSession(srv *Server) *session {
	eng := srv.cfg.Policy
	sess := &session{
		srv: srv, ep: &Endpoint{Name: "bench"}, id: "0123456789abcdef", log: srv.log,
		client: discardConn{}, cw: pgwire.NewWriter(io.Discard), uw: pgwire.NewWriter(io.Discard),
		scs: true, encoding: "UTF8",
		ident: &identity.Identity{Subject: "carol", Email: "carol@example.com", Groups: []string{"readers"}},
	}
	sess.params = map[string]string{"database": "bench"}
	sess.check = eng.Session(policy.Context{
		User:     policy.User{Sub: "carol", Groups: []string{"readers"}},
		Endpoint: policy.Endpoint{Name: "bench", Labels: map[string]string{"environment": "development"}},
	})
	sess.fe.named = map[string]*prepared{}
	sess.fe.portals = map[string]*prepared{}
	return sess
}

func queryMsg(tb testing.TB, sql string) pgwire.Msg {
	raw, err := (&pgproto3.Query{String: sql}).Encode(nil)
	if err != nil {
		tb.Fatal(err)
	}
	return pgwire.Msg{Type: 'Q', Body: raw[5:], Raw: raw}
}

// BenchmarkStatementHit is the per-statement hot path of a pgbench -S style
// query whose decision is cached: cache key, memo lookup, the audit record
// (built and written to the file), metrics and forwarding.
func BenchmarkStatementHit(b *testing.B) {
	sess := hotSession(b)
	ctx := context.Background()
	msgs := make([]pgwire.Msg, 64)
	for i := range msgs {
		msgs[i] = queryMsg(b, fmt.Sprintf("SELECT abalance FROM pgbench_accounts WHERE aid = %d;", 1000+i*7919))
	}
	if err := sess.onQuery(ctx, msgs[0]); err != nil {
		b.Fatal(err)
	}
	sess.ops.pop()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := sess.onQuery(ctx, msgs[i%len(msgs)]); err != nil {
			b.Fatal(err)
		}
		sess.ops.pop()
		_ = sess.uw.Flush()
	}
}

// TestStatementHitAllocs pins the hot path at zero allocations.
func TestStatementHitAllocs(t *testing.T) {
	sess := hotSession(t)
	ctx := context.Background()
	msg := queryMsg(t, "SELECT abalance FROM pgbench_accounts WHERE aid = 1;")
	msg2 := queryMsg(t, "SELECT abalance FROM pgbench_accounts WHERE aid = 22;")
	if err := sess.onQuery(ctx, msg); err != nil {
		t.Fatal(err)
	}
	sess.ops.pop()
	allocs := testing.AllocsPerRun(200, func() {
		_ = sess.onQuery(ctx, msg2)
		sess.ops.pop()
		_ = sess.uw.Flush()
	})
	if allocs > 0 {
		t.Fatalf("cache-hit statement path allocates %.1f times per statement, want 0", allocs)
	}
}

// TestVerdictFieldsReused checks that a statement record built from the
// session's encoded verdict fields is the record built field by field, per
// protocol.
func TestVerdictFieldsReused(t *testing.T) {
	sess := hotSession(t)
	ctx := context.Background()
	var res *policy.Result
	for _, text := range []string{"SELECT abalance FROM pgbench_accounts WHERE aid = 1", "SELECT abalance FROM pgbench_accounts WHERE aid = 2"} {
		var err error
		if res, err = sess.check.Check(ctx, text, policy.SCSOn); err != nil {
			t.Fatal(err)
		}
	}
	if !res.Cached {
		t.Fatal("the second check was not answered from the cache")
	}
	c := &res.Statements[0]
	for _, protocol := range []string{"simple", "extended", "simple", "function_call"} {
		var got, want audit.Body
		sess.statementRecord(&got, 7, c, 1, "SELECT 1", nil, true, protocol, nil)
		sess.statementRecord(&want, 7, c, 1, "SELECT 1", nil, false, protocol, nil)
		g, _ := bytes.CutSuffix(got.Bytes(), []byte(`"cached":true`))
		w, _ := bytes.CutSuffix(want.Bytes(), []byte(`"cached":false`))
		if !bytes.Equal(g, w) {
			t.Errorf("%s: record from encoded fields\n%s\nwant\n%s", protocol, got.Bytes(), want.Bytes())
		}
	}
	if n := len(sess.fe.verdicts); n != 3 {
		t.Errorf("%d verdict fields kept, want 3 (one per protocol)", n)
	}
}
