package sqlkey

import (
	"strings"
	"testing"
)

func key(tb testing.TB, text string, scs bool) (string, bool) {
	tb.Helper()
	k, ok := Append(nil, text, scs)
	return string(k), ok
}

func TestAppendKeys(t *testing.T) {
	for _, c := range []struct {
		text string
		want string // "" means not cacheable
	}{
		{"SELECT abalance FROM pgbench_accounts WHERE aid = 123;", "SELECT abalance FROM pgbench_accounts WHERE aid = \x00n;"},
		{"SELECT 'a', 'it''s', '', 1.5, 2e-3, 3E+4, 5., 007", "SELECT \x00s, \x00s, \x00s, \x00n, \x00n, \x00n, \x00n, \x00n"},
		{"SELECT $1, $23 FROM t1 WHERE a$b = 1", "SELECT $1, $23 FROM t1 WHERE a$b = \x00n"},
		{"SELECT x1, \"y'2\" FROM t", "SELECT x1, \"y'2\" FROM t"},
		{"SELECT \"a\"\"'b\" , 'c'", "SELECT \"a\"\"'b\" , \x00s"},
		{"SELECT 1 -- it's 2\n, '3'", "SELECT \x00n -- it's 2\n, \x00s"},
		{"SELECT 1 /* it's /* nested */ 'still' */ + 2", "SELECT \x00n /* it's /* nested */ 'still' */ + \x00n"},
		{"SELECT 1--2", "SELECT \x00n--2"},
		{"SELECT 1+-2*/**/3", "SELECT \x00n+-\x00n*/**/\x00n"},
		{"SELECT a[1:2], b::numeric(10,2) FROM t", "SELECT a[\x00n:\x00n], b::numeric(\x00n,\x00n) FROM t"},
		{"select 'é', 'x' AS é", "select \x00s, \x00s AS é"},
		{"SELECT 'a\\'", "SELECT \x00s"}, // scs on: the backslash is an ordinary character
		{"", ""},
	} {
		got, ok := key(t, c.text, true)
		if c.want == "" && c.text != "" {
			if ok {
				t.Errorf("Append(%q): got key %q, want not cacheable", c.text, got)
			}
			continue
		}
		if !ok || got != c.want {
			t.Errorf("Append(%q): got %q, %v; want %q", c.text, got, ok, c.want)
		}
	}
}

// TestAppendShares lists texts that must share a key with the first of
// their group.
func TestAppendShares(t *testing.T) {
	for _, group := range [][]string{
		{"SELECT abalance FROM pgbench_accounts WHERE aid = 123;", "SELECT abalance FROM pgbench_accounts WHERE aid = 456;",
			"SELECT abalance FROM pgbench_accounts WHERE aid = 99999999999999999999;", "SELECT abalance FROM pgbench_accounts WHERE aid = 1.5e10;"},
		{"UPDATE pgbench_accounts SET abalance = abalance + -4321 WHERE aid = 7;", "UPDATE pgbench_accounts SET abalance = abalance + -1 WHERE aid = 700000;"},
		{"INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (3, 1, 45, -100, CURRENT_TIMESTAMP);",
			"INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (10, 9, 8, -7, CURRENT_TIMESTAMP);"},
		{"SELECT * FROM users WHERE name = 'alice'", "SELECT * FROM users WHERE name = 'o''brien'", "SELECT * FROM users WHERE name = ''",
			"SELECT * FROM users WHERE name = '; DROP TABLE users; --'", "SELECT * FROM users WHERE name = 'a\nb'"},
		{"SELECT 'x'", "SELECT 'a\\b'", "SELECT '\\'"},
	} {
		want, ok := key(t, group[0], true)
		if !ok {
			t.Errorf("Append(%q): not cacheable", group[0])
			continue
		}
		for _, text := range group[1:] {
			if got, ok := key(t, text, true); !ok || got != want {
				t.Errorf("Append(%q) = %q, %v; want %q (the key of %q)", text, got, ok, want, group[0])
			}
		}
	}
}

func TestAppendSCSOff(t *testing.T) {
	for _, text := range []string{
		"SELECT abalance FROM pgbench_accounts WHERE aid = 123;",
		"SELECT * FROM users WHERE name = 'o''brien'",
	} {
		on, okOn := key(t, text, true)
		off, okOff := key(t, text, false)
		if !okOn || !okOff || on != off {
			t.Errorf("Append(%q): scs on %q, %v; scs off %q, %v; want the same key", text, on, okOn, off, okOff)
		}
	}
}

// TestAppendAdversarial lists crafted texts. Each must be uncacheable, or
// have a key that differs from the key of the benign text it imitates.
func TestAppendAdversarial(t *testing.T) {
	for _, c := range []struct {
		name   string
		benign string
		attack string
		scs    bool
	}{
		// With scs off a backslash escapes the quote: the string runs on
		// and hides the DROP from a lexer that ignores backslashes.
		{"backslash quote, scs off", "SELECT 'a' ; SELECT 1; --'", `SELECT 'a\' ; DROP TABLE t; --'`, false},
		{"backslash backslash, scs off", "SELECT 'a'", `SELECT '\\'`, false},
		{"backslash then dollar, scs on", "SELECT 'x', 1", `SELECT 'x\', $$'; DROP TABLE t; --$$`, true},
		{"backslash then dollar, scs off", "SELECT 'x', 1", `SELECT 'x\', $$'; DROP TABLE t; --$$`, false},
		{"E string", "SELECT 'a' ; SELECT 1; --'", `SELECT E'a\' ; DROP TABLE t; --'`, true},
		{"lower e string", "SELECT 'a'", `SELECT e'\''`, true},
		{"E string after comment is plain", "SELECT 'a'", "SELECT e/**/'a'", true},
		{"dollar quote", "SELECT 'a'", "SELECT $$a$$", true},
		{"tagged dollar quote", "SELECT 'a'", "SELECT $x$a$x$", true},
		{"dollar quote hiding a statement", "SELECT 'a'; SELECT 'b'", "SELECT $$a'; DROP TABLE t; SELECT 'b$$", true},
		{"stray dollar", "SELECT 1", "SELECT $ 1", true},
		{"parameter junk", "SELECT $1", "SELECT $1abc", true},
		{"nested comment", "SELECT 1 /* a */ 'x' */", "SELECT 1 /* /* */ 'x' */", true},
		{"nested comment hides statement", "SELECT 1 /* 'x' */", "SELECT 1 /* /* */ 'x' */; DROP TABLE t; /* */", true},
		{"unterminated nested comment", "SELECT 1 /* */", "SELECT 1 /* /* */", true},
		{"block comment hiding quotes", "SELECT 1 /* 'x' */", "SELECT 1 /* ' */ DROP TABLE t /* ' */", true},
		{"line comment hiding a quote", "SELECT 1 -- 'x'\n", "SELECT 1 -- '\n; DROP TABLE t; -- '\n", true},
		{"line comment ends at CR", "SELECT 1 -- 'x'\r", "SELECT 1 -- '\r; DROP TABLE t; -- '\r", true},
		{"U& string", "SELECT 'd'", `SELECT U&'d\0061t'`, true},
		{"U& string with UESCAPE", "SELECT 'd' UESCAPE '!'", `SELECT U&'d!0061t' UESCAPE '!'`, true},
		{"U& identifier with UESCAPE", `SELECT "d" UESCAPE '!'`, `SELECT U&"d!0061t" UESCAPE '!'`, true},
		{"uescape in any case", `SELECT 1 AS "d"`, `SELECT 1 AS U&"d!0061t" uEsCaPe '!'`, true},
		{"U& identifier", `SELECT "d"`, `SELECT U&"d\0061t"`, true},
		{"ampersand quote", "SELECT 1 & '1'", "SELECT 1 &'1'", true},
		{"bit string", "SELECT '101'", "SELECT B'101'", true},
		{"hex string", "SELECT '1F'", "SELECT X'1F'", true},
		{"national string", "SELECT 'x'", "SELECT N'x'", true},
		{"identifier before quote", "SELECT 'x'", "SELECT abc'x'", true},
		{"number before quote", "SELECT 1, 'x'", "SELECT 1'x'", true},
		{"dotted number before quote", "SELECT 1., 'x'", "SELECT 1.'x'", true},
		{"high byte before quote", "SELECT 'x'", "SELECT \xc3\xa9'x'", true},
		{"string continuation", "SELECT 'a'", "SELECT 'a'\n'; DROP TABLE t; --'", true},
		{"string continuation with comment", "SELECT 'a' -- c\n", "SELECT 'a' -- c\n'b'", true},
		{"adjacent strings", "SELECT 'a', 'b'", "SELECT 'a' 'b'", true},
		{"code moved into a string", "SELECT 'a', 'b'", "SELECT 'a'', ''b'", true},
		{"code moved out of a string", "SELECT 'a; DROP TABLE t'", "SELECT 'a'; DROP TABLE t; SELECT ''", true},
		{"quote in a quoted identifier", `SELECT "'", 1`, `SELECT "'", '1`, true},
		{"unterminated string", "SELECT 'a'", "SELECT 'a", true},
		{"unterminated identifier", `SELECT "a"`, `SELECT "a`, true},
		{"hex integer", "SELECT 31", "SELECT 0x1F", true},
		{"octal integer", "SELECT 15", "SELECT 0o17", true},
		{"underscore", "SELECT 1000", "SELECT 1_000", true},
		{"exponent without digits", "SELECT 1", "SELECT 1e", true},
		{"exponent sign without digits", "SELECT 1", "SELECT 1e+", true},
		{"two dots", "SELECT 1.2", "SELECT 1.2.3", true},
		{"range dots", "SELECT 1", "SELECT 1..2", true},
		{"trailing junk", "SELECT 12", "SELECT 12abc", true},
		{"leading dot", "SELECT 0.5", "SELECT .5", true},
		{"dot number after identifier", "SELECT t.a", "SELECT t.5", true},
		{"NUL", "SELECT 1", "SELECT 1\x00; DROP TABLE t", true},
		{"NUL in comment", "SELECT 1 -- x", "SELECT 1 -- \x00", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			b, okB := key(t, c.benign, c.scs)
			a, okA := key(t, c.attack, c.scs)
			if okA && okB && a == b {
				t.Errorf("%q and %q share key %q", c.benign, c.attack, a)
			}
		})
	}
}

// TestAppendRefuses checks that the constructs Append cannot model make a
// text uncacheable (not merely give it a different key).
func TestAppendRefuses(t *testing.T) {
	for _, text := range []string{
		`SELECT 'a\' ; DROP TABLE t; --'`, // with scs off
		`SELECT E'x'`, `SELECT e'x'`, `SELECT U&'x'`, `SELECT u&"x"`, `SELECT B'1'`, `SELECT x'1'`, `SELECT n'x'`,
		`SELECT "x" UESCAPE '!'`, `SELECT $$x$$`, `SELECT $a$x$a$`, `SELECT $`, `SELECT $1x`,
		"SELECT 'a'\n'b'", "SELECT 'a' 'b'", "SELECT 'a' /* */ 'b'", "SELECT 'unterminated", `SELECT "unterminated`,
		"SELECT /* /* */", "SELECT /*", "SELECT 0x1F", "SELECT 1_000", "SELECT 1e", "SELECT 1.2.3", "SELECT .5", "SELECT 1é",
		"SELECT 1.'x'", "SELECT t.'x'",
		"SELECT 1\x00",
	} {
		if k, ok := key(t, text, false); ok {
			t.Errorf("Append(%q, scs off) = %q, want not cacheable", text, k)
		}
	}
	if k, ok := key(t, `SELECT '\'`, true); !ok || k != "SELECT \x00s" {
		t.Errorf(`Append(SELECT '\', scs on) = %q, %v; want "SELECT \x00s"`, k, ok)
	}
}

func TestAppendAppends(t *testing.T) {
	dst := []byte("prefix:")
	got, ok := Append(dst, "SELECT 1", true)
	if !ok || string(got) != "prefix:SELECT \x00n" {
		t.Errorf("got %q, %v; want %q", got, ok, "prefix:SELECT \x00n")
	}
}

func TestAppendDoesNotAllocate(t *testing.T) {
	const text = "SELECT abalance FROM pgbench_accounts WHERE aid = 123 AND name = 'x' /* c */;"
	dst := make([]byte, 0, 256)
	allocs := testing.AllocsPerRun(100, func() {
		if _, ok := Append(dst[:0], text, false); !ok {
			t.Fatal("not cacheable")
		}
	})
	if allocs != 0 {
		t.Errorf("Append allocated %v times per run, want 0", allocs)
	}
}

func BenchmarkAppend(b *testing.B) {
	for _, c := range []struct{ name, text string }{
		{"pgbench", "SELECT abalance FROM pgbench_accounts WHERE aid = 48213;"},
		{"tpcb-update", "UPDATE pgbench_accounts SET abalance = abalance + -4321 WHERE aid = 48213;"},
		{"long", "SELECT a, b, c FROM t WHERE d = 'some string' AND e IN (1, 2, 3, 4, 5) /* comment */ " +
			strings.Repeat("OR f = 'another string value' ", 30)},
	} {
		b.Run(c.name, func(b *testing.B) {
			dst := make([]byte, 0, 4096)
			b.SetBytes(int64(len(c.text)))
			b.ReportAllocs()
			for b.Loop() {
				if _, ok := Append(dst[:0], c.text, false); !ok {
					b.Fatal("not cacheable")
				}
			}
		})
	}
}
