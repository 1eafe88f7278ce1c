package proxy

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/interlock-dev/interlock/daemon/audit"
	"github.com/interlock-dev/interlock/testenv"
)

func ctxT(t *testing.T) context.Context { return testenv.Context(t, time.Minute) }

// pgCode returns the SQLSTATE of err, or "".
func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

func TestProxy(t *testing.T) {
	e := newEnv(t, envOptions{})
	t.Run("SimpleAllowAndDeny", func(t *testing.T) { testSimpleAllowAndDeny(t, e) })
	t.Run("MultiStatementDenyNoneRuns", func(t *testing.T) { testMultiStatementDeny(t, e) })
	t.Run("TransactionStatusTruthful", func(t *testing.T) { testTxStatus(t, e) })
	t.Run("PipelineWithDenied", func(t *testing.T) { testPipeline(t, e) })
	t.Run("PreparedAndBinary", func(t *testing.T) { testPrepared(t, e) })
	t.Run("Copy", func(t *testing.T) { testCopy(t, e) })
	t.Run("Cancel", func(t *testing.T) { testCancel(t, e) })
	t.Run("ListenNotify", func(t *testing.T) { testListenNotify(t, e) })
	t.Run("CacheHits", func(t *testing.T) { testCacheHits(t, e) })
	t.Run("Psql", func(t *testing.T) { testPsql(t, e) })
	t.Run("Audit", func(t *testing.T) { testAudit(t, e) })
}

// TestPolicyChangeReachesPreparedStatements: a statement prepared under one
// policy is decided again under the next at every Execute, both ways.
func TestPolicyChangeReachesPreparedStatements(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := ctxT(t)
	c := e.connect(t, "carol", "readers")
	if _, err := c.Prepare(ctx, "q", "SELECT count(*) FROM customers WHERE id > $1"); err != nil {
		t.Fatal(err)
	}
	run := func() error {
		var n int
		return c.QueryRow(ctx, "q", 0).Scan(&n)
	}
	for _, step := range []struct {
		data  map[string]any
		allow bool
	}{
		{nil, true},
		{map[string]any{"groups": map[string]any{"readers": []any{"auditors"}}}, false},
		{nil, true},
	} {
		if err := e.engine.SetData(ctx, step.data); err != nil {
			t.Fatal(err)
		}
		for range 3 { // the first Execute, then cached answers
			if err := run(); step.allow && err != nil || !step.allow && pgCode(err) != "42501" {
				t.Fatalf("policy data %v: Execute gave %v, want allowed %v", step.data, err, step.allow)
			}
		}
	}
}

func testSimpleAllowAndDeny(t *testing.T, e *env) {
	ctx := ctxT(t)
	c := e.connect(t, "carol", "readers")
	var n int
	if err := c.QueryRow(ctx, "SELECT count(*) FROM customers").Scan(&n); err != nil {
		t.Fatalf("reader SELECT: %v", err)
	}
	if n == 0 {
		t.Fatalf("got %d customers, want some", n)
	}
	_, err := c.Exec(ctx, "DROP TABLE customers")
	if pgCode(err) != "42501" || !strings.Contains(err.Error(), "Interlock denied") {
		t.Fatalf("DROP as reader: got %v, want 42501 Interlock denied", err)
	}
	// The session continues.
	if err := c.QueryRow(ctx, "SELECT count(*) FROM customers").Scan(&n); err != nil {
		t.Fatalf("SELECT after denial: %v", err)
	}
	// The identity is not the client's word: user=anyone was ignored and
	// the brokered role is the reader's.
	var who string
	if err := c.QueryRow(ctx, "SELECT current_user").Scan(&who); err != nil {
		t.Fatal(err)
	}
	if who != "interlock_ro" {
		t.Fatalf("current_user = %q, want interlock_ro", who)
	}
	w := e.connect(t, "bob", "writers")
	if _, err := w.Exec(ctx, "UPDATE customers SET notes = 'seen' WHERE id = 1"); err != nil {
		t.Fatalf("writer UPDATE with WHERE: %v", err)
	}
}

func testMultiStatementDeny(t *testing.T, e *env) {
	ctx := ctxT(t)
	w := e.connect(t, "bob", "writers")
	d := e.direct(t)
	if _, err := d.Exec(ctx, "UPDATE customers SET notes = 'before' WHERE id = 2"); err != nil {
		t.Fatal(err)
	}
	// Simple protocol, several statements in one Query message.
	_, err := w.PgConn().Exec(ctx, "UPDATE customers SET notes = 'after' WHERE id = 2; DROP TABLE orders").ReadAll()
	if pgCode(err) != "42501" {
		t.Fatalf("multi-statement with a DROP: got %v, want 42501", err)
	}
	var notes string
	if err := d.QueryRow(ctx, "SELECT notes FROM customers WHERE id = 2").Scan(&notes); err != nil {
		t.Fatal(err)
	}
	if notes != "before" {
		t.Fatalf("notes = %q: the allowed statement ran although another in the same query was denied", notes)
	}
	var exists bool
	if err := d.QueryRow(ctx, "SELECT to_regclass('public.orders') IS NOT NULL").Scan(&exists); err != nil || !exists {
		t.Fatalf("orders table gone (%v, %v)", exists, err)
	}
}

func testTxStatus(t *testing.T, e *env) {
	ctx := ctxT(t)
	c := e.connect(t, "carol", "readers")
	pc := c.PgConn()
	if _, err := pc.Exec(ctx, "BEGIN").ReadAll(); err != nil {
		t.Fatal(err)
	}
	if s := pc.TxStatus(); s != 'T' {
		t.Fatalf("after BEGIN tx status %q, want T", s)
	}
	_, err := pc.Exec(ctx, "DELETE FROM customers").ReadAll()
	if pgCode(err) != "42501" {
		t.Fatalf("DELETE as reader: %v", err)
	}
	if s := pc.TxStatus(); s != 'E' {
		t.Fatalf("after a denied statement in a transaction, tx status %q, want E (failed transaction)", s)
	}
	_, err = pc.Exec(ctx, "SELECT 1").ReadAll()
	if pgCode(err) != "25P02" {
		t.Fatalf("statement in failed transaction: got %v, want 25P02 from the server", err)
	}
	if _, err := pc.Exec(ctx, "ROLLBACK").ReadAll(); err != nil {
		t.Fatal(err)
	}
	if s := pc.TxStatus(); s != 'I' {
		t.Fatalf("after ROLLBACK tx status %q, want I", s)
	}
}

func testPipeline(t *testing.T, e *env) {
	ctx := ctxT(t)
	c := e.connect(t, "carol", "readers")
	pc := c.PgConn()

	// One Sync per statement: the denied one fails alone.
	p := pc.StartPipeline(ctx)
	p.SendQueryParams("SELECT 1", nil, nil, nil, nil)
	p.SendPipelineSync()
	p.SendQueryParams("DELETE FROM customers WHERE id = $1", [][]byte{[]byte("1")}, nil, nil, nil)
	p.SendPipelineSync()
	p.SendQueryParams("SELECT 3", nil, nil, nil, nil)
	p.SendPipelineSync()
	if err := p.Flush(); err != nil {
		t.Fatal(err)
	}
	var got []string
	for {
		r, err := p.GetResults()
		if err != nil {
			got = append(got, "err:"+pgCode(err))
			continue
		}
		if r == nil {
			break
		}
		switch r := r.(type) {
		case *pgconn.ResultReader:
			res := r.Read()
			if res.Err != nil {
				got = append(got, "err:"+pgCode(res.Err))
			} else {
				got = append(got, string(res.Rows[0][0]))
			}
		case *pgconn.PipelineSync:
			got = append(got, "sync")
		}
	}
	if err := p.Close(); err != nil {
		t.Fatalf("pipeline close: %v", err)
	}
	want := "1 sync err:42501 sync 3 sync"
	if g := strings.Join(got, " "); g != want {
		t.Fatalf("pipeline results %q, want %q", g, want)
	}

	// One Sync for all: statements after the denied one are skipped, as
	// the server does after an error.
	p = pc.StartPipeline(ctx)
	p.SendQueryParams("SELECT 1", nil, nil, nil, nil)
	p.SendQueryParams("DELETE FROM customers WHERE id = 1", nil, nil, nil, nil)
	p.SendQueryParams("SELECT 3", nil, nil, nil, nil)
	p.SendPipelineSync()
	_ = p.Flush()
	got = nil
	for {
		r, err := p.GetResults()
		if err != nil {
			got = append(got, "err:"+pgCode(err))
			continue
		}
		if r == nil {
			break
		}
		switch r := r.(type) {
		case *pgconn.ResultReader:
			res := r.Read()
			if res.Err != nil {
				got = append(got, "err:"+pgCode(res.Err))
			} else {
				got = append(got, string(res.Rows[0][0]))
			}
		case *pgconn.PipelineSync:
			got = append(got, "sync")
		}
	}
	_ = p.Close()
	if g := strings.Join(got, " "); !strings.HasPrefix(g, "1 err:42501") || strings.Contains(g, " 3") {
		t.Fatalf("pipeline results %q: want 1 then the denial, and SELECT 3 skipped", g)
	}
	// The connection is in sync afterwards.
	var n int
	if err := c.QueryRow(ctx, "SELECT 41 + 1").Scan(&n); err != nil || n != 42 {
		t.Fatalf("after pipeline: %d, %v", n, err)
	}
}

func testPrepared(t *testing.T, e *env) {
	ctx := ctxT(t)
	c := e.connect(t, "carol", "readers")
	// pgx's default mode prepares named statements and uses binary formats.
	for i := 1; i <= 5; i++ {
		var id int64
		var email string
		var balance float64
		var created time.Time
		err := c.QueryRow(ctx, "SELECT id, email, balance::float8, created_at FROM customers WHERE id = $1", i).Scan(&id, &email, &balance, &created)
		if err != nil {
			t.Fatalf("prepared SELECT id=%d: %v", i, err)
		}
		if id != int64(i) || email == "" {
			t.Fatalf("got id %d email %q", id, email)
		}
	}
	_, err := c.Exec(ctx, "UPDATE customers SET notes = $1 WHERE id = $2", "x", 1)
	if pgCode(err) != "42501" {
		t.Fatalf("prepared UPDATE as reader: %v, want 42501", err)
	}
	// Still usable after a denied Parse.
	var one int
	if err := c.QueryRow(ctx, "SELECT $1::int", 1).Scan(&one); err != nil || one != 1 {
		t.Fatalf("after denied prepare: %d %v", one, err)
	}
}

func testCopy(t *testing.T, e *env) {
	ctx := ctxT(t)
	w := e.connect(t, "bob", "writers")
	cols := []string{"id", "customer_id", "product", "quantity", "amount", "status", "ordered_at"}
	rows := make([][]any, 1000)
	for i := range rows {
		rows[i] = []any{int32(100000 + i), int32(1), fmt.Sprintf("copied %d", i), int32(1), "1.00", "new", time.Now()}
	}
	n, err := w.CopyFrom(ctx, pgx.Identifier{"orders"}, cols, pgx.CopyFromRows(rows))
	if err != nil {
		t.Fatalf("COPY FROM STDIN as writer: %v", err)
	}
	if n != 1000 {
		t.Fatalf("copied %d rows, want 1000", n)
	}
	r := e.connect(t, "carol", "readers")
	var sb strings.Builder
	tag, err := r.PgConn().CopyTo(ctx, &sb, "COPY (SELECT id, product FROM orders WHERE product LIKE 'copied %' ORDER BY id) TO STDOUT")
	if err != nil {
		t.Fatalf("COPY TO STDOUT as reader: %v", err)
	}
	if tag.RowsAffected() != 1000 || strings.Count(sb.String(), "\n") != 1000 {
		t.Fatalf("COPY TO: %s, %d lines", tag, strings.Count(sb.String(), "\n"))
	}
	_, err = r.CopyFrom(ctx, pgx.Identifier{"orders"}, cols, pgx.CopyFromRows(rows[:1]))
	if pgCode(err) != "42501" {
		t.Fatalf("COPY FROM as reader: %v, want 42501", err)
	}
}

func testCancel(t *testing.T, e *env) {
	ctx := ctxT(t)
	c := e.connect(t, "carol", "readers")
	d := e.direct(t)
	errc := make(chan error, 1)
	start := time.Now()
	go func() {
		_, err := c.Exec(ctx, "SELECT pg_sleep(30) /* cancel me */")
		errc <- err
	}()
	testenv.WaitFor(t, 10*time.Second, "the query to run", func() bool {
		var n int
		_ = d.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%cancel me%' AND state = 'active' AND pid <> pg_backend_pid()").Scan(&n)
		return n == 1
	})
	// The client cancels with the BackendKeyData the proxy gave it.
	if err := c.PgConn().CancelRequest(ctx); err != nil {
		t.Fatal(err)
	}
	err := <-errc
	if pgCode(err) != "57014" {
		t.Fatalf("got %v, want 57014 query_canceled", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Fatalf("cancel took %s", time.Since(start))
	}
	if got := testutil.ToFloat64(e.metrics.CancelRequests.WithLabelValues("forwarded")); got < 1 {
		t.Fatalf("forwarded cancels = %v, want >= 1", got)
	}
	// An unknown key is ignored, as the server does.
	before := testutil.ToFloat64(e.metrics.CancelRequests.WithLabelValues("unknown"))
	raw := rawConn(t, e)
	raw.send(t, []byte{0, 0, 0, 16, 0x04, 0xd2, 0x16, 0x2e, 0, 0, 0, 1, 0, 0, 0, 2})
	raw.expectClosed(t)
	testenv.WaitFor(t, 10*time.Second, "the unknown cancel request", func() bool { return testutil.ToFloat64(e.metrics.CancelRequests.WithLabelValues("unknown")) > before })
	// The session is still usable.
	var one int
	if err := c.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		t.Fatal(err)
	}
}

func testListenNotify(t *testing.T, e *env) {
	ctx := ctxT(t)
	a := e.connect(t, "carol", "readers")
	b := e.connect(t, "bob", "writers")
	if _, err := a.Exec(ctx, "LISTEN interlock_test"); err != nil {
		t.Fatalf("LISTEN: %v", err)
	}
	if _, err := b.Exec(ctx, "NOTIFY interlock_test, 'hello'"); err != nil {
		t.Fatalf("NOTIFY: %v", err)
	}
	n, err := a.WaitForNotification(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n.Channel != "interlock_test" || n.Payload != "hello" {
		t.Fatalf("notification %+v", n)
	}
}

func testCacheHits(t *testing.T, e *env) {
	ctx := ctxT(t)
	c := e.connect(t, "carol", "readers")
	before := testutil.ToFloat64(e.metrics.CacheHits)
	for i := 0; i < 100; i++ {
		// Different constants, one cache entry (pgbench -S style, simple protocol).
		if _, err := c.Exec(ctx, fmt.Sprintf("SELECT name FROM customers WHERE id = %d;", i%10+1), pgx.QueryExecModeSimpleProtocol); err != nil {
			t.Fatal(err)
		}
	}
	if hits := testutil.ToFloat64(e.metrics.CacheHits) - before; hits < 99 {
		t.Fatalf("cache hits %v over 100 statements differing only in constants, want >= 99", hits)
	}
}

func testPsql(t *testing.T, e *env) {
	psql, err := exec.LookPath("psql")
	if err != nil {
		t.Fatal("psql not found: apt-get install -y postgresql-client")
	}
	script := `SELECT 'allowed:' || count(*) FROM customers;
DROP TABLE customers;
SELECT 'still here' AS status;
SELECT 1 AS a; SELECT 2 AS b;
\set ON_ERROR_STOP 0
UPDATE customers SET notes = 'psql' WHERE id = 3;
`
	f := filepath.Join(t.TempDir(), "s.sql")
	if err := os.WriteFile(f, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	host, port := splitHostPort(e.addr)
	cmd := exec.Command(psql, "-X", "-At", "-h", host, "-p", port, "-U", "whoever", "-d", e.pg.Database, "-f", f)
	cmd.Env = append(os.Environ(), "PGPASSWORD="+e.token(t, "carol", "readers"), "PGSSLMODE=prefer", "PGCONNECT_TIMEOUT=10")
	out, _ := cmd.CombinedOutput()
	s := string(out)
	for _, want := range []string{"allowed:", "ERROR:  Interlock denied this statement", "still here", "1\n2", "UPDATE"} {
		if want == "UPDATE" {
			if !strings.Contains(s, "Interlock denied this statement: ") || strings.Count(s, "Interlock denied") < 2 {
				t.Fatalf("psql output lacks the UPDATE denial:\n%s", s)
			}
			continue
		}
		if !strings.Contains(s, want) {
			t.Fatalf("psql output lacks %q:\n%s", want, s)
		}
	}
}

func testAudit(t *testing.T, e *env) {
	ctx := ctxT(t)
	c := e.connect(t, "carol", "readers")
	marker := fmt.Sprintf("audit marker %d", time.Now().UnixNano())
	if _, err := c.Exec(ctx, "SELECT '"+marker+"' AS m", pgx.QueryExecModeSimpleProtocol); err != nil {
		t.Fatal(err)
	}
	_, _ = c.Exec(ctx, "DROP TABLE customers -- "+marker)
	_ = c.Close(ctx)
	var stmtRec, resultRec, denyRec map[string]any
	testenv.WaitFor(t, 10*time.Second, "the audit records", func() bool {
		stmtRec, resultRec, denyRec = nil, nil, nil
		f, err := os.Open(e.audit)
		if err != nil {
			return false
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<20)
		var stmtN float64 = -1
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) != nil {
				continue
			}
			text, _ := m["text"].(string)
			switch {
			case m["type"] == "statement" && strings.Contains(text, marker) && m["decision"] == "allow":
				stmtRec = m
				stmtN = m["stmt"].(float64)
			case m["type"] == "statement" && strings.Contains(text, marker) && m["decision"] == "deny":
				denyRec = m
			case m["type"] == "statement_result" && stmtRec != nil && m["session"] == stmtRec["session"] && m["stmt"] == stmtN:
				resultRec = m
			}
		}
		return stmtRec != nil && resultRec != nil && denyRec != nil
	})
	if stmtRec["user"] != "carol" || stmtRec["text_sha256"] == "" || stmtRec["fingerprint"] == "" {
		t.Fatalf("statement record lacks identity or hashes: %v", stmtRec)
	}
	if resultRec["tag"] != "SELECT 1" || resultRec["rows"] != float64(1) {
		t.Fatalf("result record %v, want tag SELECT 1 and rows 1", resultRec)
	}
	if r, _ := denyRec["reason"].(string); r == "" {
		t.Fatalf("denied record without a reason: %v", denyRec)
	}
	if stmtRec["seq"].(float64) >= resultRec["seq"].(float64) {
		t.Fatalf("result record (seq %v) before its statement record (seq %v)", resultRec["seq"], stmtRec["seq"])
	}
	rep, err := audit.Verify(ctx, audit.VerifyOptions{Files: []string{e.audit}, Live: true})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("audit chain does not verify: %s", rep)
	}
}

// TestLargeResultBoundedMemory streams a result of over 1M rows (~130 MB)
// through the proxy and checks the heap stays bounded.
func TestLargeResultBoundedMemory(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := ctxT(t)
	c := e.connect(t, "carol", "readers")
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak.Load() {
				peak.Store(m.HeapInuse)
			}
		}
	}()
	rows, err := c.Query(ctx, "SELECT g, repeat('x', 100) FROM generate_series(1, 1100000) g")
	if err != nil {
		t.Fatal(err)
	}
	var n, bytes int
	for rows.Next() {
		n++
		bytes += len(rows.RawValues()[1])
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	close(stop)
	wg.Wait()
	if n != 1100000 {
		t.Fatalf("got %d rows, want 1100000", n)
	}
	growth := int64(peak.Load()) - int64(base)
	t.Logf("streamed %d rows (%d MB of values); heap grew by at most %d KB", n, bytes>>20, growth>>10)
	if growth > 48<<20 {
		t.Fatalf("heap grew by %d MB while streaming %d MB: the result is being buffered", growth>>20, bytes>>20)
	}
}

// TestSlowResultNotHeld: rows of a result still streaming are held back to
// be written with the next ones, but only while the server keeps sending:
// when it pauses mid-result, the client gets what has arrived.
func TestSlowResultNotHeld(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := ctxT(t)
	c := e.connect(t, "carol", "readers")
	// Rows larger than the server's 8 kB output buffer go out as they are
	// made, one every 300 ms.
	start := time.Now()
	rows, err := c.Query(ctx, "SELECT g, repeat('x', 9000), pg_sleep(0.3) FROM generate_series(1, 4) g", pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		t.Fatal(err)
	}
	var arrived []time.Duration
	for rows.Next() {
		arrived = append(arrived, time.Since(start))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(arrived) != 4 {
		t.Fatalf("got %d rows, want 4", len(arrived))
	}
	// The first row is made after 300 ms and the query ends after 1.2 s.
	if arrived[0] > 800*time.Millisecond {
		t.Fatalf("first row arrived after %v (all at %v): rows were held until the result ended", arrived[0], arrived)
	}
}
