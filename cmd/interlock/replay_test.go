package main

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/interlock-dev/interlock/daemon/approval"
	"github.com/interlock-dev/interlock/daemon/audit"
	"github.com/interlock-dev/interlock/daemon/recording"
)

const (
	replaySession = "0011223344556677"
	otherSession  = "8899aabbccddeeff"
)

// stepClock starts at 2026-03-01 12:00:00 UTC and advances 100ms a call.
type stepClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *stepClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(100 * time.Millisecond)
	return c.t
}

// replayFixture is an audit chain (rotated across several files) and a
// recording for replaySession, written as interlockd writes them.
type replayFixture struct {
	auditPath, recDir string
	approvedID        string // requested in otherSession, run in replaySession
	rejectedID        string
}

func newReplayFixture(t *testing.T) *replayFixture {
	t.Helper()
	ctx := testCtx(t)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	clock := &stepClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	dir := t.TempDir()
	fx := &replayFixture{auditPath: filepath.Join(dir, "audit.jsonl"), recDir: filepath.Join(dir, "sessions")}
	log, err := audit.Open(ctx, audit.Config{Path: fx.auditPath, RotateBytes: 2048, Clock: clock.now, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	store, err := approval.NewLocalStore(ctx, approval.LocalConfig{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	svc, err := approval.New(ctx, approval.Config{Store: store, Audit: log, Node: "node-a", Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	rec, err := recording.New(ctx, recording.Config{Dir: fx.recDir, Clock: clock.now, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	sess, err := rec.Open(replaySession, recording.SessionMeta{User: "bob", Endpoint: "prod", Database: "app", Start: clock.now()})
	if err != nil {
		t.Fatal(err)
	}

	var b audit.Body
	write := func() {
		t.Helper()
		if err := log.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	start := func(id, user string) {
		b.Reset(audit.TypeSessionStart)
		b.Str("session", id).Str("user", user).Str("email", user+"@example.com").Strs("groups", []string{"dev"}).
			Str("issuer", "https://issuer.example.com").Str("auth", "session").Str("client_addr", "127.0.0.1:50000").
			Str("endpoint", "prod").Str("database", "app").Str("application_name", "psql").Str("upstream_user", "app_rw").
			Int("pid", 4242).Int("uid", 1000).Int("gid", 1000).Str("comm", "psql").Str("exe", "/usr/bin/psql").
			Str("cgroup", "/user.slice/user-1000.slice/session-3.scope")
		write()
	}
	statement := func(id string, n uint64, text, decision, reason string, approved *approval.Request) {
		b.Reset(audit.TypeStatement)
		b.Str("session", id).Uint("stmt", n).Str("user", "bob")
		b.StrMax("text", text, 4096)
		b.SHA256("text_sha256", text).Str("protocol", "simple").Strs("kinds", []string{"select"}).
			Str("decision", decision).Str("reason", reason)
		if approved != nil {
			approved.AppendAudit(&b)
		}
		write()
		if decision != "deny" && id == replaySession {
			sess.Statement(n, text)
		}
	}
	result := func(id string, n uint64, tag, code, msg string, masked []string) {
		b.Reset(audit.TypeStatementResult)
		b.Str("session", id).Uint("stmt", n).Str("status", "ok")
		if tag != "" {
			b.Str("tag", tag)
		}
		if code != "" {
			b.Str("status", "error").Str("error_code", code).Str("error", msg)
		}
		b.Duration("duration", 1200*time.Microsecond)
		if masked != nil {
			b.Strs("masked", masked).Strs("masked_unknown_provenance", nil)
		}
		log.Defer(b)
		if id == replaySession {
			sess.Result(n, tag, code, msg)
		}
	}
	bob := approval.Requester{Subject: "bob", Email: "bob@example.com", Groups: []string{"dev"}, Origin: &approval.Origin{Auth: "session", PID: 4242, UID: 1000, Comm: "psql"}}
	alice := approval.Actor{Subject: "alice", Email: "alice@example.com", Groups: []string{"dba"}, Via: approval.ViaControl}

	start(replaySession, "bob")
	start(otherSession, "carol")
	statement(otherSession, 1, "SELECT secret_of_the_other_session", "allow", "", nil)

	// #1: a masked SELECT with its rows.
	statement(replaySession, 1, "SELECT id, email\nFROM users LIMIT 2", "allow", "reads are allowed", nil)
	sess.RowDescription(1, rowDescriptionBody(t, "id", "email"))
	sess.DataRow(1, dataRowBody(t, []byte("1"), []byte("***")), nil)
	sess.DataRow(1, dataRowBody(t, []byte("2"), nil), nil)
	result(replaySession, 1, "SELECT 2", "", "", []string{"email"})

	// #2: approved in another session's request (non-blocking re-run).
	r, err := svc.Request(ctx, approval.NewRequest{Requester: bob, Endpoint: "prod", Database: "app",
		Statement: "DELETE FROM orders WHERE id = 5", ApproverGroups: []string{"dba"}, Reason: "deleting needs a DBA",
		SessionID: otherSession, Mode: approval.ModeNonBlocking})
	if err != nil {
		t.Fatal(err)
	}
	fx.approvedID = r.ID
	if _, err := svc.Approve(ctx, r.ID, alice, "ticket 42"); err != nil {
		t.Fatal(err)
	}
	consumed, err := svc.Consume(ctx, r.ID, r.Binding)
	if err != nil {
		t.Fatal(err)
	}
	statement(replaySession, 2, "DELETE FROM orders WHERE id = 5", "approved", "deleting needs a DBA", consumed)
	result(replaySession, 2, "DELETE 1", "", "", nil)

	// #3: held in this session, rejected.
	r2, err := svc.Request(ctx, approval.NewRequest{Requester: bob, Endpoint: "prod", Database: "app",
		Statement: "DELETE FROM orders", ApproverGroups: []string{"dba"}, Reason: "deleting needs a DBA",
		SessionID: replaySession, Mode: approval.ModeBlocking})
	if err != nil {
		t.Fatal(err)
	}
	fx.rejectedID = r2.ID
	sess.Notice("approval request " + r2.ID + " is pending")
	if _, err := svc.Reject(ctx, r2.ID, alice, "no WHERE clause"); err != nil {
		t.Fatal(err)
	}
	statement(replaySession, 3, "DELETE FROM orders", "deny", "rejected by alice: no WHERE clause", nil)

	// #4: denied by policy, with a terminal escape in the text.
	statement(replaySession, 4, "DROP TABLE orders -- \x1b[2J", "deny", "DDL is not allowed", nil)
	// #5: an error.
	statement(replaySession, 5, "SELECT 1/0", "allow", "", nil)
	result(replaySession, 5, "", "22012", "division by zero", nil)

	b.Reset(audit.TypeSessionEnd)
	b.Str("session", replaySession).Str("user", "bob").Uint("statements", 5).Duration("duration", 90*time.Second).Str("reason", "client_terminated")
	write()
	sess.Close("client_terminated")
	return fx
}

func dataRowBody(t *testing.T, values ...[]byte) []byte {
	t.Helper()
	b, err := (&pgproto3.DataRow{Values: values}).Encode(nil)
	if err != nil {
		t.Fatal(err)
	}
	return b[5:]
}

func rowDescriptionBody(t *testing.T, names ...string) []byte {
	t.Helper()
	rd := &pgproto3.RowDescription{}
	for _, n := range names {
		rd.Fields = append(rd.Fields, pgproto3.FieldDescription{Name: []byte(n), DataTypeOID: 25, DataTypeSize: -1, TypeModifier: -1})
	}
	b, err := rd.Encode(nil)
	if err != nil {
		t.Fatal(err)
	}
	return b[5:]
}

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(testCtx(t), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestReplayTimeline(t *testing.T) {
	fx := newReplayFixture(t)
	files, err := audit.ResolveFiles([]string{fx.auditPath})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 3 {
		t.Fatalf("the fixture should span rotated files, got %v", files)
	}
	for _, auditArg := range []string{fx.auditPath, filepath.Dir(fx.auditPath)} {
		code, out, errOut := runCLI(t, "replay", replaySession, "--audit", auditArg)
		if code != exitOK {
			t.Fatalf("--audit %s: exit %d: %s", auditArg, code, errOut)
		}
		// Key lines, in timeline order.
		want := []string{
			"Session " + replaySession,
			"user       bob (bob@example.com) · groups dev",
			"origin     psql pid 4242 uid 1000 · exe /usr/bin/psql · cgroup /user.slice/user-1000.slice/session-3.scope",
			"target     endpoint prod · database app · as app_rw",
			"ended      2026-03-01 ",
			"client_terminated · after 1m30s · 5 statements",
			"recording  " + filepath.Join(fx.recDir, replaySession+".jsonl") + " · 2 rows recorded, 0 not",
			"#1 allow  SELECT id, email",
			"    FROM users LIMIT 2",
			`reason: "reads are allowed" · kinds select`,
			"→ SELECT 2 · 1.2ms · masked email",
			"id  email",
			"1   ***",
			"2   NULL",
			"approval requested  " + fx.approvedID + " by bob (nonblocking)",
			"in session " + otherSession + ": DELETE FROM orders WHERE id = 5",
			"approved  " + fx.approvedID + " by alice (alice@example.com) via control",
			`comment: "ticket 42"`,
			"#2 approved  DELETE FROM orders WHERE id = 5",
			"approval " + fx.approvedID + ": approved by alice via control",
			"→ DELETE 1 · 1.2ms",
			"approval requested  " + fx.rejectedID + " by bob (blocking)",
			"notice: approval request " + fx.rejectedID + " is pending",
			"rejected  " + fx.rejectedID + " by alice (alice@example.com) via control",
			`reason: "no WHERE clause"`,
			"#3 deny  DELETE FROM orders",
			"#4 deny  DROP TABLE orders -- \\x1b[2J",
			`reason: "DDL is not allowed"`,
			"#5 allow  SELECT 1/0",
			"→ error 22012: division by zero · 1.2ms",
			"session ended: client_terminated after 1m30s, 5 statements",
		}
		pos := 0
		for _, w := range want {
			i := strings.Index(out[pos:], w)
			if i < 0 {
				t.Fatalf("--audit %s: missing (or out of order) %q after offset %d in:\n%s", auditArg, w, pos, out)
			}
			pos += i + len(w)
		}
		for _, bad := range []string{"secret_of_the_other_session", "carol", "\x1b"} {
			if strings.Contains(out, bad) {
				t.Fatalf("output contains %q:\n%s", bad, out)
			}
		}
	}
}

func TestReplayJSON(t *testing.T) {
	fx := newReplayFixture(t)
	code, out, errOut := runCLI(t, "replay", "--json", replaySession, "--audit", fx.auditPath, "--rows", "1")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var got struct {
		SessionID string            `json:"session_id"`
		Start     map[string]any    `json:"session_start"`
		End       map[string]any    `json:"session_end"`
		Recording map[string]any    `json:"recording"`
		Timeline  []json.RawMessage `json:"timeline"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if got.SessionID != replaySession || got.Start["user"] != "bob" || got.End["reason"] != "client_terminated" || got.Recording == nil {
		t.Fatalf("got %+v", got)
	}
	types := map[string]int{}
	var first struct {
		Type     string         `json:"type"`
		Stmt     uint64         `json:"stmt"`
		Record   map[string]any `json:"record"`
		Result   map[string]any `json:"result"`
		Recorded struct {
			Columns  []string            `json:"columns"`
			Rows     [][]json.RawMessage `json:"rows"`
			RowLines int                 `json:"row_lines"`
		} `json:"recorded"`
	}
	for _, raw := range got.Timeline {
		var e struct {
			Type string `json:"type"`
			Stmt uint64 `json:"stmt"`
		}
		if err := json.Unmarshal(raw, &e); err != nil {
			t.Fatal(err)
		}
		types[e.Type]++
		if e.Type == "statement" && e.Stmt == 1 {
			if err := json.Unmarshal(raw, &first); err != nil {
				t.Fatal(err)
			}
		}
	}
	want := map[string]int{"session_start": 1, "statement": 5, "approval_request": 2, "approval": 1, "rejection": 1, "notice": 1, "session_end": 1}
	for k, n := range want {
		if types[k] != n {
			t.Errorf("%d %s events, want %d (all: %v)", types[k], k, n, types)
		}
	}
	if first.Record["text"] != "SELECT id, email\nFROM users LIMIT 2" || first.Result["tag"] != "SELECT 2" {
		t.Fatalf("statement 1: %+v", first)
	}
	if len(first.Recorded.Rows) != 1 || first.Recorded.RowLines != 2 || string(first.Recorded.Rows[0][1]) != `"***"` {
		t.Fatalf("statement 1 recorded (--rows 1): %+v", first.Recorded)
	}
}

func TestReplayErrors(t *testing.T) {
	fx := newReplayFixture(t)
	tests := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"unknown session", []string{"replay", "ffffffffffffffff", "--audit", fx.auditPath}, exitFailed, "unknown session ffffffffffffffff"},
		{"no audit log", []string{"replay", replaySession, "--audit", filepath.Join(t.TempDir(), "missing.jsonl")}, exitFailed, "audit file"},
		{"no id", []string{"replay", "--audit", fx.auditPath}, exitUsage, "one session id is required"},
		{"two ids", []string{"replay", "a", "b"}, exitUsage, "one session id is required"},
		{"path as id", []string{"replay", "../etc/passwd"}, exitUsage, "one session id is required"},
		{"bad flag", []string{"replay", replaySession, "--nope"}, exitUsage, "flag provided but not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := runCLI(t, tt.args...)
			if code != tt.code || !strings.Contains(errOut, tt.msg) {
				t.Fatalf("exit %d, stderr %q; want %d and %q", code, errOut, tt.code, tt.msg)
			}
		})
	}
}

func TestReplayWithoutRecording(t *testing.T) {
	fx := newReplayFixture(t)
	code, out, errOut := runCLI(t, "replay", replaySession, "--audit", fx.auditPath, "--recordings", t.TempDir())
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, w := range []string{"#1 allow  SELECT id, email", "→ SELECT 2", "no recording: result recording is off"} {
		if !strings.Contains(out, w) {
			t.Fatalf("missing %q in:\n%s", w, out)
		}
	}
	if strings.Contains(out, "***") {
		t.Fatalf("rows shown without a recording:\n%s", out)
	}
}

func TestClean(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain é", "plain é"},
		{"a\x1b[31mb", `a\x1b[31mb`},
		{"a\nb\tc", `a\nb\tc`},
		{"\u202eevil", `\u202eevil`},
		{"\u0085x", `\x85x`},
	}
	for _, tt := range tests {
		if got := clean(tt.in, false); got != tt.want {
			t.Errorf("clean(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := clean("a\nb", true); got != "a\nb" {
		t.Errorf("clean kept no newline: %q", got)
	}
}
