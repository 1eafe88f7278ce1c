package audit

import (
	"context"
	"crypto/ed25519"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testKey returns a fresh signing key pair.
func testKey(tb testing.TB) (ed25519.PublicKey, ed25519.PrivateKey) {
	tb.Helper()
	pub, priv, err := GenerateKey()
	if err != nil {
		tb.Fatal(err)
	}
	return pub, priv
}

// quietLogger discards logs so tests stay readable.
func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// mustOpen opens a Log and closes it at cleanup.
func mustOpen(tb testing.TB, cfg Config) *Log {
	tb.Helper()
	if cfg.Logger == nil {
		cfg.Logger = quietLogger()
	}
	l, err := Open(context.Background(), cfg)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { l.Close() })
	return l
}

// statementBody fills b with a realistic statement record (~20 fields,
// a 200-byte statement).
func statementBody(b *Body, session, n int) {
	const stmt = `SELECT o.id, o.total, c.name, c.email FROM orders o JOIN customers c ON c.id = o.customer_id WHERE o.created_at > now() - interval '1 day' AND c.region = 'eu-west' ORDER BY o.total DESC LIMIT 50`
	b.Reset(TypeStatement)
	b.Int("session_id", int64(session))
	b.Int("n", int64(n))
	b.Str("user", "alice@example.com")
	b.Strs("groups", []string{"dba", "oncall"})
	b.Str("database", "prod")
	b.Str("db_user", "app_rw")
	b.Str("upstream", "10.0.0.5:5432")
	b.Int("pid", 4242)
	b.Int("uid", 1000)
	b.Str("comm", "psql")
	b.Str("cgroup", "/user.slice/user-1000.slice/session-3.scope")
	b.Str("protocol", "simple")
	b.StrMax("statement", stmt, DefaultMaxStatementBytes)
	b.SHA256("statement_sha256", stmt)
	b.Bool("statement_truncated", false)
	b.Strs("kinds", []string{"select"})
	b.Strs("tables", []string{"public.orders", "public.customers"})
	b.Str("decision", "allow")
	b.Str("policy_rule", "data.interlock.allow")
	b.Bool("masked", true)
	b.Duration("decide_ns", 12*time.Microsecond)
}

// readLines returns the lines of a file (without newlines) and whether the
// file ended with a newline.
func readLines(tb testing.TB, path string) []string {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	s := string(data)
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

func writeLines(tb testing.TB, path string, lines []string) {
	tb.Helper()
	data := strings.Join(lines, "\n")
	if len(lines) > 0 {
		data += "\n"
	}
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		tb.Fatal(err)
	}
}

// chainFiles lists the files of the chain whose live file is path.
func chainFiles(tb testing.TB, path string) []string {
	tb.Helper()
	files, err := ResolveFiles([]string{path})
	if err != nil {
		tb.Fatal(err)
	}
	return files
}

// mustParse parses a line or fails.
func mustParse(tb testing.TB, line string) record {
	tb.Helper()
	r, err := parseLine([]byte(line))
	if err != nil {
		tb.Fatalf("parse %q: %v", line, err)
	}
	return r
}

func tempPath(tb testing.TB) string {
	tb.Helper()
	return filepath.Join(tb.TempDir(), "audit", "audit.log")
}

// mustVerify runs Verify and fails on an I/O or usage error.
func mustVerify(tb testing.TB, opts VerifyOptions) *Report {
	tb.Helper()
	rep, err := Verify(context.Background(), opts)
	if err != nil {
		tb.Fatalf("Verify: %v", err)
	}
	return rep
}
