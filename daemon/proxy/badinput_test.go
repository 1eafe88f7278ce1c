package proxy

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/interlock-dev/interlock/testenv"
)

// raw is a hand-driven client connection for protocol edge cases.
type raw struct {
	c  net.Conn
	fe *pgproto3.Frontend
}

func rawConn(t *testing.T, e *env) *raw {
	t.Helper()
	c, err := net.DialTimeout("tcp", e.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(15 * time.Second))
	return &raw{c: c, fe: pgproto3.NewFrontend(c, c)}
}

func (r *raw) send(t *testing.T, b []byte) {
	t.Helper()
	if _, err := r.c.Write(b); err != nil {
		t.Fatalf("write: %v", err)
	}
}

func (r *raw) sendMsg(t *testing.T, m pgproto3.FrontendMessage) {
	t.Helper()
	b, err := m.Encode(nil)
	if err != nil {
		t.Fatal(err)
	}
	r.send(t, b)
}

// expectError reads messages until an ErrorResponse and checks its code
// and that the message contains want.
func (r *raw) expectError(t *testing.T, code, want string) *pgproto3.ErrorResponse {
	t.Helper()
	for {
		m, err := r.fe.Receive()
		if err != nil {
			t.Fatalf("waiting for error %s %q: %v", code, want, err)
		}
		if e, ok := m.(*pgproto3.ErrorResponse); ok {
			if e.Code != code || !strings.Contains(e.Message, want) {
				t.Fatalf("got error %s %q, want %s containing %q", e.Code, e.Message, code, want)
			}
			return e
		}
	}
}

func (r *raw) expectClosed(t *testing.T) {
	t.Helper()
	buf := make([]byte, 1)
	_, err := r.c.Read(buf)
	if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !strings.Contains(fmtErr(err), "reset") {
		t.Fatalf("connection not closed: %v", err)
	}
}

func fmtErr(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func startup(params map[string]string) []byte {
	b, _ := (&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersionNumber, Parameters: params}).Encode(nil)
	return b
}

// authed returns a raw connection past authentication.
func authed(t *testing.T, e *env) *raw {
	t.Helper()
	r := rawConn(t, e)
	r.send(t, startup(map[string]string{"user": "x", "database": e.pg.Database}))
	if _, err := r.fe.Receive(); err != nil { // AuthenticationCleartextPassword
		t.Fatal(err)
	}
	r.sendMsg(t, &pgproto3.PasswordMessage{Password: e.token(t, "carol", "readers")})
	r.until(t, nil)
	return r
}

// until reads messages up to ReadyForQuery, calling f (if not nil) on each.
func (r *raw) until(t *testing.T, f func(pgproto3.BackendMessage)) {
	t.Helper()
	for {
		m, err := r.fe.Receive()
		if err != nil {
			t.Fatalf("waiting for ReadyForQuery: %v", err)
		}
		if _, ok := m.(*pgproto3.ReadyForQuery); ok {
			return
		}
		if f != nil {
			f(m)
		}
	}
}

// encodeMsgs encodes msgs back to back, as a client sends a pipeline.
func encodeMsgs(msgs ...pgproto3.FrontendMessage) []byte {
	var b []byte
	for _, m := range msgs {
		b, _ = m.Encode(b)
	}
	return b
}

func TestBadInput(t *testing.T) {
	e := newEnv(t, envOptions{maxMsg: 1 << 20})
	ctx := ctxT(t)
	// A healthy session that must be unaffected by everything below.
	bystander := e.connect(t, "bob", "writers")

	t.Run("TruncatedStartup", func(t *testing.T) {
		r := rawConn(t, e)
		r.send(t, []byte{0, 0, 0, 40, 0, 3, 0, 0, 'u', 's'})
		_ = r.c.(*net.TCPConn).CloseWrite()
		r.expectError(t, "08P01", "invalid startup packet")
	})
	t.Run("MalformedStartupParams", func(t *testing.T) {
		r := rawConn(t, e)
		r.send(t, []byte{0, 0, 0, 13, 0, 3, 0, 0, 'u', 's', 'e', 'r', 'x'}) // no terminators
		r.expectError(t, "08P01", "invalid startup packet")
	})
	t.Run("HugeStartupLength", func(t *testing.T) {
		r := rawConn(t, e)
		r.send(t, []byte{0x7f, 0, 0, 0, 0, 3, 0, 0})
		r.expectError(t, "08P01", "invalid startup packet")
	})
	t.Run("UnsupportedProtocol", func(t *testing.T) {
		r := rawConn(t, e)
		b := make([]byte, 8)
		binary.BigEndian.PutUint32(b, 8)
		binary.BigEndian.PutUint32(b[4:], 2<<16)
		r.send(t, b)
		r.expectError(t, "0A000", "unsupported frontend protocol 2.0")
	})
	t.Run("NewerMinorNegotiated", func(t *testing.T) {
		r := rawConn(t, e)
		b, _ := (&pgproto3.StartupMessage{ProtocolVersion: 3<<16 | 9, Parameters: map[string]string{"user": "x", "_pq_.future": "1"}}).Encode(nil)
		r.send(t, b)
		m, err := r.fe.Receive()
		if err != nil {
			t.Fatal(err)
		}
		npv, ok := m.(*pgproto3.NegotiateProtocolVersion)
		if !ok || npv.NewestMinorProtocol != 0 || len(npv.UnrecognizedOptions) != 1 {
			t.Fatalf("got %#v, want NegotiateProtocolVersion(3.0, [_pq_.future])", m)
		}
	})
	t.Run("SecondSSLRequest", func(t *testing.T) {
		r := rawConn(t, e)
		ssl := []byte{0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f}
		r.send(t, ssl)
		one := make([]byte, 1)
		if _, err := io.ReadFull(r.c, one); err != nil || one[0] != 'N' {
			t.Fatalf("SSLRequest answer %q %v, want N", one, err)
		}
		r.send(t, ssl)
		r.expectError(t, "08P01", "SSL negotiation already done")
	})
	t.Run("GSSENCRequest", func(t *testing.T) {
		r := rawConn(t, e)
		r.send(t, []byte{0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x30})
		one := make([]byte, 1)
		if _, err := io.ReadFull(r.c, one); err != nil || one[0] != 'N' {
			t.Fatalf("GSSENCRequest answer %q %v, want N", one, err)
		}
	})
	t.Run("Replication", func(t *testing.T) {
		r := rawConn(t, e)
		r.send(t, startup(map[string]string{"user": "x", "replication": "database"}))
		r.expectError(t, "0A000", "replication connections are not supported")
	})
	t.Run("NotAPassword", func(t *testing.T) {
		r := rawConn(t, e)
		r.send(t, startup(map[string]string{"user": "x"}))
		_, _ = r.fe.Receive()
		r.sendMsg(t, &pgproto3.Query{String: "SELECT 1"})
		r.expectError(t, "08P01", "expected password response")
	})
	t.Run("OversizedMessage", func(t *testing.T) {
		r := authed(t, e)
		hdr := []byte{'Q', 0, 0x20, 0, 0} // 2 MiB > the 1 MiB limit
		r.send(t, hdr)
		r.expectError(t, "54000", "limit is 1048576 bytes")
		r.expectClosed(t)
	})
	t.Run("GarbageAfterAuth", func(t *testing.T) {
		r := authed(t, e)
		r.send(t, []byte{'~', 0, 0, 0, 4})
		r.expectError(t, "08P01", "invalid frontend message type 126")
		r.expectClosed(t)
	})
	t.Run("BadLengthAfterAuth", func(t *testing.T) {
		r := authed(t, e)
		r.send(t, []byte{'Q', 0, 0, 0, 1})
		r.expectClosed(t)
	})

	tokens := []struct {
		name, want string
		mint       func() (string, error)
	}{
		{"Expired", "token expired", func() (string, error) {
			return e.issuer.Mint(testenv.MintOptions{Subject: "carol", Groups: []string{"readers"}, IssuedAt: time.Now().Add(-2 * time.Hour), Expiry: time.Now().Add(-time.Hour)})
		}},
		{"Forged", "bad token signature", func() (string, error) {
			return e.issuer.MintForeignKey(testenv.MintOptions{Subject: "carol", Groups: []string{"readers"}})
		}},
		{"AlgNone", "unsigned token (alg none)", func() (string, error) {
			return e.issuer.MintAlgNone(testenv.MintOptions{Subject: "carol", Groups: []string{"readers"}})
		}},
		{"HS256WithPublicKey", `signing algorithm "HS256" is not accepted`, func() (string, error) {
			return e.issuer.MintHS256PublicKey(testenv.MintOptions{Subject: "carol", Groups: []string{"readers"}})
		}},
		{"WrongAudience", "wrong audience", func() (string, error) {
			return e.issuer.Mint(testenv.MintOptions{Subject: "carol", Groups: []string{"readers"}, Audience: []string{"someone-else"}})
		}},
		{"UnknownIssuer", "unknown issuer", func() (string, error) {
			return e.issuer.Mint(testenv.MintOptions{Subject: "carol", Groups: []string{"readers"}, Issuer: "https://evil.example"})
		}},
		{"Malformed", "malformed token", func() (string, error) { return "not-a-jwt", nil }},
		{"NoRole", "no upstream role", func() (string, error) {
			return e.issuer.Mint(testenv.MintOptions{Subject: "mallory", Groups: []string{"nobody"}})
		}},
	}
	for _, tc := range tokens {
		t.Run("Token"+tc.name, func(t *testing.T) {
			tok, err := tc.mint()
			if err != nil {
				t.Fatal(err)
			}
			_, err = pgx.Connect(ctx, e.dsn(tok))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("connect with %s token: got %v, want an error containing %q", tc.name, err, tc.want)
			}
			code := "28P01"
			if tc.name == "NoRole" {
				code = "28000"
			}
			if pgCode(err) != code {
				t.Fatalf("SQLSTATE %q, want %s", pgCode(err), code)
			}
		})
	}

	var n int
	if err := bystander.QueryRow(ctx, "SELECT count(*) FROM customers").Scan(&n); err != nil {
		t.Fatalf("bystander session broken by bad input: %v", err)
	}
}

func TestUpstreamDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	e := newEnv(t, envOptions{upstream: dead})
	_, err = pgx.Connect(context.Background(), e.dsn(e.token(t, "carol", "readers")))
	if pgCode(err) != "08006" || !strings.Contains(err.Error(), "could not connect to the database through Interlock") {
		t.Fatalf("got %v, want 08006 could not connect", err)
	}
}

// TestUpstreamDiesMidSession kills the backend under a live session: the
// client gets a clear FATAL and other sessions carry on.
func TestUpstreamDiesMidSession(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := ctxT(t)
	victim := e.connect(t, "carol", "readers")
	other := e.connect(t, "bob", "writers")
	var pid int
	if err := victim.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
		t.Fatal(err)
	}
	d := e.direct(t)
	if _, err := d.Exec(ctx, "SELECT pg_terminate_backend($1)", pid); err != nil {
		t.Fatal(err)
	}
	_, err := victim.Exec(ctx, "SELECT 1")
	if err == nil {
		t.Fatal("query on a terminated backend succeeded")
	}
	var n int
	if err := other.QueryRow(ctx, "SELECT 1").Scan(&n); err != nil {
		t.Fatalf("other session broken: %v", err)
	}
}

func TestFunctionCall(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := ctxT(t)
	d := e.direct(t)
	var absOID, termOID uint32
	if err := d.QueryRow(ctx, "SELECT 'pg_catalog.int4abs'::regproc::oid, 'pg_catalog.pg_terminate_backend'::regproc::oid").Scan(&absOID, &termOID); err != nil {
		t.Fatal(err)
	}
	r := authed(t, e)
	r.sendMsg(t, &pgproto3.FunctionCall{Function: absOID, ArgFormatCodes: []uint16{0}, Arguments: [][]byte{[]byte("-5")}})
	m, err := r.fe.Receive()
	if err != nil {
		t.Fatal(err)
	}
	if fr, ok := m.(*pgproto3.FunctionCallResponse); !ok || string(fr.Result) != "5" {
		t.Fatalf("FunctionCall abs(-5): got %#v, want FunctionCallResponse 5", m)
	}
	if m, _ := r.fe.Receive(); m == nil {
		t.Fatal("no ReadyForQuery")
	}
	r.sendMsg(t, &pgproto3.FunctionCall{Function: termOID, ArgFormatCodes: []uint16{0}, Arguments: [][]byte{[]byte("1")}})
	r.expectError(t, "42501", "Interlock denied")
	r.sendMsg(t, &pgproto3.FunctionCall{Function: 4294967000})
	r.expectError(t, "42501", "cannot be resolved")
}

// TestAuditUnavailableFailsClosed: when the audit log cannot be written,
// statements are refused with a clear error and nothing runs.
func TestAuditUnavailableFailsClosed(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := ctxT(t)
	w := e.connect(t, "bob", "writers")
	if _, err := w.Exec(ctx, "SELECT 1"); err != nil {
		t.Fatal(err)
	}
	if err := e.log.Close(); err != nil {
		t.Fatal(err)
	}
	_, err := w.Exec(ctx, "UPDATE customers SET notes = 'unaudited' WHERE id = 4", pgx.QueryExecModeSimpleProtocol)
	if pgCode(err) != "42501" || !strings.Contains(err.Error(), "audit log cannot be written") {
		t.Fatalf("simple protocol with the audit log down: got %v", err)
	}
	_, err = w.Exec(ctx, "UPDATE customers SET notes = $1 WHERE id = 4", "unaudited")
	if pgCode(err) != "42501" || !strings.Contains(err.Error(), "audit log cannot be written") {
		t.Fatalf("extended protocol with the audit log down: got %v", err)
	}
	var notes *string
	if err := e.direct(t).QueryRow(ctx, "SELECT notes FROM customers WHERE id = 4").Scan(&notes); err != nil {
		t.Fatal(err)
	}
	if notes != nil && *notes == "unaudited" {
		t.Fatal("a statement ran although it could not be audited")
	}
	if got := testutil.ToFloat64(e.metrics.AuditWriteErrors); got < 2 {
		t.Fatalf("audit write errors = %v, want >= 2", got)
	}
	// New connections are refused too.
	_, err = pgx.Connect(ctx, e.dsn(e.token(t, "carol", "readers")))
	if pgCode(err) != "58000" {
		t.Fatalf("connect with the audit log down: got %v, want 58000", err)
	}
}

// TestClientDisconnectsMidResult: a client that goes away in the middle of
// a large result ends its session (and its backend) cleanly; others carry on.
func TestClientDisconnectsMidResult(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := ctxT(t)
	other := e.connect(t, "bob", "writers")
	r := authed(t, e)
	r.sendMsg(t, &pgproto3.Query{String: "SELECT g, repeat('y', 200) FROM generate_series(1, 5000000) g /* mid-result */"})
	for i := 0; i < 100; i++ {
		if _, err := r.fe.Receive(); err != nil {
			t.Fatal(err)
		}
	}
	_ = r.c.Close()
	testenv.WaitFor(t, 10*time.Second, "the session", func() bool { return testutil.ToFloat64(e.metrics.SessionsActive) == 1 })
	d := e.direct(t)
	testenv.WaitFor(t, 10*time.Second, "the query to reach the server", func() bool {
		var n int
		_ = d.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%mid-result%' AND pid <> pg_backend_pid()").Scan(&n)
		return n == 0
	})
	var one int
	if err := other.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		t.Fatalf("other session: %v", err)
	}
}
