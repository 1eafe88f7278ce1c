package proxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/interlock-dev/interlock/daemon/audit"
	"github.com/interlock-dev/interlock/daemon/identity"
	"github.com/interlock-dev/interlock/daemon/metrics"
	"github.com/interlock-dev/interlock/daemon/pgwire"
	"github.com/interlock-dev/interlock/policy"
	"github.com/interlock-dev/interlock/policy/analysis"
)

// hotSession builds a session whose frontend path can be driven without a
// network: upstream writes are discarded and the audit log is a real file.
// data is the policy data (nil for none).
func hotSession(tb testing.TB, data map[string]any) *session {
	tb.Helper()
	return newSession(hotServer(tb, data))
}

// hotServer is a Server with a real policy engine (data as its policy
// data) and audit log but no listeners.
func hotServer(tb testing.TB, data map[string]any) *Server {
	tb.Helper()
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	al, err := audit.Open(ctx, audit.Config{Path: filepath.Join(tb.TempDir(), "audit.jsonl"), Logger: log})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = al.Close() })
	m := metrics.New()
	eng, err := policy.New(ctx, policy.Config{Logger: log, Observer: m.PolicyObserver(), Data: data})
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
	sess.fe.cursors = map[string][]analysis.OutputColumn{}
	return sess
}

func queryMsg(tb testing.TB, sql string) pgwire.Msg {
	raw, err := (&pgproto3.Query{String: sql}).Encode(nil)
	if err != nil {
		tb.Fatal(err)
	}
	return pgwire.Msg{Type: 'Q', Body: raw[5:], Raw: raw}
}

// hotUsers are the two shapes of the hot path: a user without masking
// rules, and one with some (masking then plans every result set, from a
// memo).
var hotUsers = []struct {
	name string
	data map[string]any
}{
	{"unmasked", nil},
	{"masked", maskingData()},
}

// pgbenchQueries are 64 pgbench -S style queries: one shape, different
// constants.
func pgbenchQueries(tb testing.TB) []pgwire.Msg {
	msgs := make([]pgwire.Msg, 64)
	for i := range msgs {
		msgs[i] = queryMsg(tb, fmt.Sprintf("SELECT abalance FROM pgbench_accounts WHERE aid = %d;", 1000+i*7919))
	}
	return msgs
}

// BenchmarkStatementHit is the per-statement hot path of a pgbench -S style
// query whose decision is cached: cache key, memo lookup, the audit record
// (built and written to the file), metrics and forwarding.
func BenchmarkStatementHit(b *testing.B) {
	for _, u := range hotUsers {
		b.Run(u.name, func(b *testing.B) {
			sess := hotSession(b, u.data)
			ctx := context.Background()
			msgs := pgbenchQueries(b)
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
		})
	}
}

// scriptedUpstream is an upstream that answers each Read with one pgbench
// -S response (RowDescription, DataRow, CommandComplete, ReadyForQuery),
// after first running the next query through the frontend: one Read is one
// whole round trip through the proxy, in one goroutine. It ends with io.EOF
// after n round trips.
type scriptedUpstream struct {
	tb   testing.TB
	sess *session
	msgs []pgwire.Msg
	resp []byte
	rest []byte // of the response being read
	i, n int
	// countAllocs: mallocs is the process's malloc count after the first
	// round trip and after the last (not counting the loop's start and
	// end, which allocate once per run).
	countAllocs bool
	mallocs     [2]uint64
}

func (u *scriptedUpstream) Read(p []byte) (int, error) {
	if len(u.rest) == 0 {
		if u.countAllocs {
			switch u.i {
			case 1:
				u.mallocs[0] = mallocs()
			case u.n:
				u.mallocs[1] = mallocs()
			}
		}
		if u.i == u.n {
			return 0, io.EOF
		}
		if err := u.sess.onQuery(context.Background(), u.msgs[u.i%len(u.msgs)]); err != nil {
			u.tb.Fatal(err)
		}
		_ = u.sess.uw.Flush()
		u.i++
		u.rest = u.resp
	}
	n := copy(p, u.rest)
	u.rest = u.rest[n:]
	return n, nil
}

// mallocs is the process's count of heap allocations so far.
func mallocs() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.Mallocs
}

// pgbenchResponse is the server's answer to a pgbench -S query.
func pgbenchResponse(tb testing.TB) []byte {
	var out []byte
	var err error
	for _, m := range []pgproto3.BackendMessage{
		&pgproto3.RowDescription{Fields: []pgproto3.FieldDescription{{Name: []byte("abalance"), DataTypeOID: 23, DataTypeSize: 4, TypeModifier: -1}}},
		&pgproto3.DataRow{Values: [][]byte{[]byte("-4711")}},
		&pgproto3.CommandComplete{CommandTag: []byte("SELECT 1")},
		&pgproto3.ReadyForQuery{TxStatus: 'I'},
	} {
		if out, err = m.Encode(out); err != nil {
			tb.Fatal(err)
		}
	}
	return out
}

// roundTrips runs n pgbench -S round trips through sess: each query through
// the frontend, its response through the real backend loop. With
// countAllocs it returns the allocations per round trip over all but the
// first, as an integer like testing.AllocsPerRun and -benchmem: rare
// runtime allocations (a goroutine waiting on a mutex the audit log's
// background flush holds) are not the statement's.
func roundTrips(tb testing.TB, sess *session, n int, countAllocs bool) uint64 {
	up := &scriptedUpstream{tb: tb, sess: sess, msgs: pgbenchQueries(tb), resp: pgbenchResponse(tb), n: n, countAllocs: countAllocs}
	sess.ur = pgwire.NewReader(up)
	err := sess.backendLoop(context.Background())
	if !errors.Is(err, errUpstreamGone) || !errors.Is(err, io.EOF) || up.i != n {
		tb.Fatalf("backend loop ended after %d of %d round trips: %v", up.i, n, err)
	}
	if !countAllocs || n < 2 {
		return 0
	}
	return (up.mallocs[1] - up.mallocs[0]) / uint64(n-1)
}

// BenchmarkRoundTrip is the proxy's whole per-statement work on a pgbench
// -S round trip with a cached decision, without the sockets: the query's
// check, audit record and forwarding, then the response's relay, result
// record and masking plan lookup.
func BenchmarkRoundTrip(b *testing.B) {
	for _, u := range hotUsers {
		b.Run(u.name, func(b *testing.B) {
			sess := hotSession(b, u.data)
			roundTrips(b, sess, 1, false) // the first decision is not cached
			b.ReportAllocs()
			b.ResetTimer()
			roundTrips(b, sess, b.N, false)
		})
	}
}

// TestStatementHitAllocs pins the hot path at zero allocations, for the
// query alone and for the whole round trip.
func TestStatementHitAllocs(t *testing.T) {
	for _, u := range hotUsers {
		t.Run(u.name, func(t *testing.T) {
			sess := hotSession(t, u.data)
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
				t.Errorf("cache-hit statement path allocates %.1f times per statement, want 0", allocs)
			}
			roundTrips(t, sess, 1, false)
			if per := roundTrips(t, sess, 1000, true); per > 0 {
				t.Errorf("cache-hit round trip allocates %d times per statement, want 0", per)
			}
		})
	}
}

// TestVerdictFieldsReused checks that a statement record built from the
// session's encoded verdict fields is the record built field by field, per
// protocol.
func TestVerdictFieldsReused(t *testing.T) {
	sess := hotSession(t, nil)
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
	n := 0
	for _, m := range sess.fe.memos {
		n += len(m.fields)
	}
	if n != 3 {
		t.Errorf("%d verdict fields kept, want 3 (one per protocol)", n)
	}
}

// TestMasksMemo checks what a session remembers of cached verdicts'
// masking contexts: a repeated statement gets the same contexts without
// building them again, but COPY options (constants the decision cache
// ignores) and cursors are read from each statement.
func TestMasksMemo(t *testing.T) {
	ctx := context.Background()
	sess := hotSession(t, maskingData())
	masksOf := func(text string) []*maskCtx {
		t.Helper()
		res, err := sess.check.Check(ctx, text, policy.SCSOn)
		if err != nil {
			t.Fatal(err)
		}
		masks, reason := sess.queryMasks(res, text)
		if reason != "" {
			t.Fatalf("%s: %s", text, reason)
		}
		if len(masks) != 1 || masks[0] == nil {
			t.Fatalf("%s: masks %v, want one context", text, masks)
		}
		return masks
	}

	masksOf("SELECT ssn FROM customers WHERE id = 1") // not cached yet
	a := masksOf("SELECT ssn FROM customers WHERE id = 2")
	b := masksOf("SELECT ssn FROM customers WHERE id = 3")
	if &a[0] != &b[0] {
		t.Error("a repeated statement's masking contexts were built again")
	}

	for _, tc := range []struct{ text, delimiter string }{
		{"COPY (SELECT ssn FROM customers) TO STDOUT WITH (DELIMITER ',')", ","},
		{"COPY (SELECT ssn FROM customers) TO STDOUT WITH (DELIMITER '|')", "|"},
		{"COPY (SELECT ssn FROM customers) TO STDOUT WITH (DELIMITER ';')", ";"},
	} {
		m := masksOf(tc.text)
		if m[0].copy == nil || m[0].copy.Delimiter != tc.delimiter {
			t.Errorf("%s: COPY options %+v, want delimiter %q", tc.text, m[0].copy, tc.delimiter)
		}
	}

	// FETCH reads the lineage of whatever query the cursor was last
	// declared for.
	for _, declare := range []string{
		"DECLARE c1 CURSOR FOR SELECT ssn FROM customers",
		"DECLARE c1 CURSOR FOR SELECT id, email FROM customers",
		"DECLARE c1 CURSOR FOR SELECT ssn FROM customers",
	} {
		masksOf(declare)
		want := sess.fe.cursors["c1"]
		for range 3 {
			m := masksOf("FETCH 1 FROM c1")
			if len(m[0].out) != len(want) || len(want) == 0 || &m[0].out[0] != &want[0] {
				t.Errorf("FETCH after %s: lineage %+v, want %+v", declare, m[0].out, want)
			}
		}
	}
}
