package audit

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// buildChain writes a realistic closed chain across several rotated files:
// statements, deferred results, periodic checkpoints, a final checkpoint.
func buildChain(tb testing.TB, priv ed25519.PrivateKey) (path string, files []string) {
	tb.Helper()
	path = tempPath(tb)
	l := mustOpen(tb, Config{Path: path, SigningKey: priv, RotateBytes: 12 << 10, FlushDelay: time.Hour})
	var b Body
	for i := range 40 {
		statementBody(&b, 1, i)
		if err := l.Write(b); err != nil {
			tb.Fatal(err)
		}
		b.Reset(TypeStatementResult)
		b.Int("n", int64(i)).Str("tag", "SELECT 50").Int("rows", 50)
		l.Defer(b)
		if i%7 == 6 {
			if err := l.Checkpoint(); err != nil {
				tb.Fatal(err)
			}
		}
	}
	if err := l.Close(); err != nil {
		tb.Fatal(err)
	}
	files = chainFiles(tb, path)
	if len(files) < 3 {
		tb.Fatalf("fixture has %d files, want at least 3", len(files))
	}
	return path, files
}

// chain is the lines of every file, to tamper with.
type chain struct {
	files []string
	lines [][]string
}

func loadChain(tb testing.TB, files []string) *chain {
	c := &chain{files: files}
	for _, f := range files {
		c.lines = append(c.lines, readLines(tb, f))
	}
	return c
}

func (c *chain) save(tb testing.TB) {
	for i, f := range c.files {
		writeLines(tb, f, c.lines[i])
	}
}

// find returns the file index and 0-based line index of the n-th (0-based)
// record of a type in a file.
func (c *chain) find(tb testing.TB, fi int, typ string, n int) int {
	tb.Helper()
	for li, line := range c.lines[fi] {
		if mustParse(tb, line).Type == typ {
			if n == 0 {
				return li
			}
			n--
		}
	}
	tb.Fatalf("no %s #%d in file %d", typ, n, fi)
	return -1
}

func (c *chain) last() (fi, li int) {
	fi = len(c.lines) - 1
	return fi, len(c.lines[fi]) - 1
}

// signCheckpoint rebuilds a checkpoint line from its seq/time/prev, signed
// by key under keyID.
func signCheckpoint(tb testing.TB, line string, key ed25519.PrivateKey, keyID string) string {
	tb.Helper()
	r := mustParse(tb, line)
	out := fmt.Appendf(nil, `{"seq":%d,"time":"%s","prev":"%s",`, r.Seq, r.Time, r.Prev)
	out, _ = appendCheckpointBody(out, key, keyID, r.Seq, r.Prev, r.Time, r.Final, nil)
	return string(append(out, '}'))
}

var prevRE = regexp.MustCompile(`"prev":"[0-9a-f]{64}"`)

// rechain recomputes every prev from (fi, li) on, re-signing checkpoints
// with key under keyID: what an attacker without the real key can do.
func (c *chain) rechain(tb testing.TB, fi, li int, key ed25519.PrivateKey, keyID string) {
	tb.Helper()
	var prevLine string
	if li > 0 {
		prevLine = c.lines[fi][li-1]
	} else if fi > 0 {
		prevLine = c.lines[fi-1][len(c.lines[fi-1])-1]
	}
	first := true
	for ; fi < len(c.lines); fi, li = fi+1, 0 {
		for ; li < len(c.lines[fi]); li++ {
			line := c.lines[fi][li]
			if !first {
				sum := sha256.Sum256([]byte(prevLine))
				line = prevRE.ReplaceAllLiteralString(line, `"prev":"`+hex.EncodeToString(sum[:])+`"`)
			}
			first = false
			if strings.Contains(line, `"type":"checkpoint"`) {
				line = signCheckpoint(tb, line, key, keyID)
			}
			c.lines[fi][li] = line
			prevLine = line
		}
	}
}

func TestVerifyTamper(t *testing.T) {
	pub, priv := testKey(t)
	_, otherPriv := testKey(t)
	otherID := KeyID(otherPriv.Public().(ed25519.PublicKey))

	type want struct {
		kind FailureKind
		file int // index into files; -1 = last file
		line int // 1-based; -1 = last line
	}
	tests := []struct {
		name   string
		tamper func(t *testing.T, c *chain) want
		also   []FailureKind // further kinds that must be reported
	}{
		{
			name: "edit a byte",
			tamper: func(t *testing.T, c *chain) want {
				li := c.find(t, 0, TypeStatement, 2)
				c.lines[0][li] = strings.Replace(c.lines[0][li], "alice@", "alicf@", 1)
				return want{KindHashMismatch, 0, li + 1}
			},
		},
		{
			name: "edit a byte into bad JSON",
			tamper: func(t *testing.T, c *chain) want {
				li := c.find(t, 0, TypeStatement, 2)
				c.lines[0][li] = strings.Replace(c.lines[0][li], `"user":`, `"user";`, 1)
				return want{KindBadRecord, 0, li + 1}
			},
		},
		{
			name: "edit the prev field",
			tamper: func(t *testing.T, c *chain) want {
				li := c.find(t, 0, TypeStatement, 2)
				c.lines[0][li] = prevRE.ReplaceAllLiteralString(c.lines[0][li], `"prev":"`+strings.Repeat("a", 64)+`"`)
				// The first mismatch names the record before (its hash no
				// longer matches); the second names the edited record.
				return want{KindHashMismatch, 0, li}
			},
			also: []FailureKind{KindHashMismatch},
		},
		{
			name: "delete a line",
			tamper: func(t *testing.T, c *chain) want {
				li := c.find(t, 0, TypeStatement, 2)
				c.lines[0] = append(c.lines[0][:li], c.lines[0][li+1:]...)
				return want{KindSeqGap, 0, li + 1}
			},
		},
		{
			name: "swap two lines",
			tamper: func(t *testing.T, c *chain) want {
				li := c.find(t, 0, TypeStatement, 2)
				c.lines[0][li], c.lines[0][li+1] = c.lines[0][li+1], c.lines[0][li]
				return want{KindSeqGap, 0, li + 1}
			},
			also: []FailureKind{KindSeqOrder},
		},
		{
			name: "duplicate a line",
			tamper: func(t *testing.T, c *chain) want {
				li := c.find(t, 0, TypeStatement, 2)
				c.lines[0] = append(c.lines[0][:li+1], c.lines[0][li:]...)
				return want{KindSeqOrder, 0, li + 2}
			},
		},
		{
			name: "truncate the tail",
			tamper: func(t *testing.T, c *chain) want {
				fi, li := c.last()
				c.lines[fi] = c.lines[fi][:li-2]
				return want{KindUnsealed, fi, li - 2}
			},
			also: []FailureKind{KindNoFinalCheckpoint},
		},
		{
			name: "remove the final checkpoint",
			tamper: func(t *testing.T, c *chain) want {
				fi, li := c.last()
				c.lines[fi] = c.lines[fi][:li]
				return want{KindUnsealed, fi, li}
			},
			also: []FailureKind{KindNoFinalCheckpoint},
		},
		{
			name: "torn last line",
			tamper: func(t *testing.T, c *chain) want {
				fi, li := c.last()
				c.save(t)
				data, err := os.ReadFile(c.files[fi])
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(c.files[fi], data[:len(data)-40], 0o600); err != nil {
					t.Fatal(err)
				}
				c.lines = nil // saved already
				return want{KindTornLine, fi, li + 1}
			},
			also: []FailureKind{KindNoFinalCheckpoint},
		},
		{
			name: "forge the final checkpoint with another key",
			tamper: func(t *testing.T, c *chain) want {
				fi, li := c.last()
				c.lines[fi][li] = signCheckpoint(t, c.lines[fi][li], otherPriv, otherID)
				return want{KindWrongKey, fi, li + 1}
			},
			also: []FailureKind{KindUnsealed, KindNoFinalCheckpoint},
		},
		{
			name: "forge a signature under the real key id",
			tamper: func(t *testing.T, c *chain) want {
				fi, li := c.last()
				c.lines[fi][li] = signCheckpoint(t, c.lines[fi][li], otherPriv, KeyID(pub))
				return want{KindBadSignature, fi, li + 1}
			},
		},
		{
			name: "rewrite history and re-sign with another key",
			tamper: func(t *testing.T, c *chain) want {
				li := c.find(t, 0, TypeStatement, 2)
				c.lines[0][li] = strings.Replace(c.lines[0][li], "alice@", "mallory", 1)
				c.rechain(t, 0, li, otherPriv, otherID)
				for fi := range c.lines {
					for lj := range c.lines[fi] {
						if (fi > 0 || lj > li) && strings.Contains(c.lines[fi][lj], `"type":"checkpoint"`) {
							return want{KindWrongKey, fi, lj + 1}
						}
					}
				}
				t.Fatal("no checkpoint after the edit")
				return want{}
			},
		},
		{
			name: "remove a checkpoint signature",
			tamper: func(t *testing.T, c *chain) want {
				fi, li := c.last()
				line := c.lines[fi][li]
				line = regexp.MustCompile(`,"key_id":"[^"]*","sig":"[^"]*"`).ReplaceAllString(line, "")
				c.lines[fi][li] = line
				return want{KindMissingSignature, fi, li + 1}
			},
		},
		{
			name: "rotation: delete a middle file",
			tamper: func(t *testing.T, c *chain) want {
				if err := os.Remove(c.files[1]); err != nil {
					t.Fatal(err)
				}
				c.files = append(c.files[:1], c.files[2:]...)
				c.lines = append(c.lines[:1], c.lines[2:]...)
				return want{KindSeqGap, 1, 1}
			},
		},
		{
			name: "rotation: delete the rotate record",
			tamper: func(t *testing.T, c *chain) want {
				c.lines[1] = c.lines[1][1:]
				return want{KindSeqGap, 1, 1}
			},
		},
		{
			name: "rotation: edit the last record of a rotated file",
			tamper: func(t *testing.T, c *chain) want {
				li := len(c.lines[0]) - 1 // its sealing checkpoint
				c.lines[0][li] = strings.Replace(c.lines[0][li], `"final":false`, `"final":true`, 1)
				return want{KindBadSignature, 0, li + 1}
			},
			also: []FailureKind{KindHashMismatch},
		},
		{
			name: "rotation: first file pruned",
			tamper: func(t *testing.T, c *chain) want {
				if err := os.Remove(c.files[0]); err != nil {
					t.Fatal(err)
				}
				c.files, c.lines = c.files[1:], c.lines[1:]
				return want{KindBadGenesis, 0, 1}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, files := buildChain(t, priv)
			if rep := mustVerify(t, VerifyOptions{Files: []string{path}, PublicKey: pub}); !rep.OK() {
				t.Fatalf("untouched chain does not verify:\n%s", rep)
			}
			c := loadChain(t, files)
			w := tt.tamper(t, c)
			if c.lines != nil {
				c.save(t)
			}
			rep := mustVerify(t, VerifyOptions{Files: []string{path}, PublicKey: pub})
			if rep.OK() || rep.FirstFailure == nil {
				t.Fatalf("tampering not detected:\n%s", rep)
			}
			got := *rep.FirstFailure
			wantFile := c.files[w.file]
			if got.Kind != w.kind || got.File != wantFile || got.Line != w.line {
				t.Errorf("first failure = %s\nwant %s at %s:%d\nreport:\n%s", got, w.kind, wantFile, w.line, rep)
			}
			for _, k := range tt.also {
				found := false
				for _, f := range rep.Failures {
					found = found || f.Kind == k
				}
				if !found {
					t.Errorf("no %s failure reported:\n%s", k, rep)
				}
			}
			if got.Seq < 0 && got.Kind != KindBadRecord && got.Kind != KindTornLine {
				t.Errorf("failure names no seq: %s", got)
			}
		})
	}
}

func TestVerifyTailMessages(t *testing.T) {
	pub, priv := testKey(t)
	path, files := buildChain(t, priv)
	c := loadChain(t, files)
	fi, li := c.last()
	c.lines[fi] = c.lines[fi][:li-1] // drop the final checkpoint and the record before it
	c.save(t)
	rep := mustVerify(t, VerifyOptions{Files: []string{path}, PublicKey: pub})
	s := rep.String()
	for _, want := range []string{
		"record(s) after the last checkpoint at seq",
		"are not covered by a signature",
		"no final checkpoint: the log was truncated or the daemon did not shut down cleanly",
		"FAILED",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("report lacks %q:\n%s", want, s)
		}
	}
	// Live mode: the same tail is expected while the daemon runs.
	live := mustVerify(t, VerifyOptions{Files: []string{path}, PublicKey: pub, Live: true})
	if !live.OK() || live.Unsealed == 0 {
		t.Errorf("live verification:\n%s", live)
	}
}

func TestVerifyPartial(t *testing.T) {
	pub, priv := testKey(t)
	_, files := buildChain(t, priv)
	if err := os.Remove(files[0]); err != nil {
		t.Fatal(err)
	}
	rep := mustVerify(t, VerifyOptions{Files: files[1:], PublicKey: pub, Partial: true})
	if !rep.OK() || rep.FirstSeq == 0 {
		t.Errorf("pruned chain with Partial:\n%s", rep)
	}
}

func TestVerifyWithoutKey(t *testing.T) {
	_, priv := testKey(t)
	path, files := buildChain(t, priv)
	rep := mustVerify(t, VerifyOptions{Files: []string{path}})
	if !rep.OK() || !rep.Final || rep.ValidCheckpoints != 0 || rep.Checkpoints == 0 {
		t.Errorf("clean chain without a key:\n%s", rep)
	}
	if !strings.Contains(rep.String(), "signatures NOT verified") {
		t.Errorf("report does not say signatures were not verified:\n%s", rep)
	}
	// Without a key, the chain itself is still checked.
	c := loadChain(t, files)
	c.lines[0] = append(c.lines[0][:3], c.lines[0][4:]...)
	c.save(t)
	if rep := mustVerify(t, VerifyOptions{Files: []string{path}}); rep.OK() {
		t.Errorf("deleted line not detected without a key:\n%s", rep)
	}
}

func TestVerifyWrongPublicKey(t *testing.T) {
	_, priv := testKey(t)
	otherPub, _ := testKey(t)
	path, _ := buildChain(t, priv)
	rep := mustVerify(t, VerifyOptions{Files: []string{path}, PublicKey: otherPub})
	if rep.OK() || rep.FirstFailure.Kind != KindWrongKey {
		t.Errorf("verification with another public key:\n%s", rep)
	}
}

func TestVerifyLogWithoutSigningKey(t *testing.T) {
	pub, _ := testKey(t)
	path := tempPath(t)
	l := mustOpen(t, Config{Path: path})
	var b Body
	statementBody(&b, 1, 1)
	if err := l.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if rep := mustVerify(t, VerifyOptions{Files: []string{path}}); !rep.OK() || rep.Checkpoints != 0 {
		t.Errorf("unsigned log without a key:\n%s", rep)
	}
	rep := mustVerify(t, VerifyOptions{Files: []string{path}, PublicKey: pub})
	if rep.OK() || !strings.Contains(rep.String(), "there is no valid checkpoint") {
		t.Errorf("unsigned log verified with a key:\n%s", rep)
	}
}

func TestResolveFiles(t *testing.T) {
	_, priv := testKey(t)
	path, files := buildChain(t, priv)
	tests := []struct {
		name string
		in   []string
		want []string
	}{
		{"live file", []string{path}, files},
		{"directory", []string{filepath.Dir(path)}, files},
		{"rotated file", []string{files[1]}, files[:2]},
		{"explicit list", []string{files[1], files[0]}, []string{files[1], files[0]}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ResolveFiles(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("ResolveFiles(%v) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
	if _, err := ResolveFiles([]string{filepath.Join(t.TempDir(), "nope")}); err == nil {
		t.Error("ResolveFiles of a missing file succeeded")
	}
}

func TestRunVerify(t *testing.T) {
	pub, priv := testKey(t)
	path, files := buildChain(t, priv)
	keyDir := t.TempDir()
	pubFile := filepath.Join(keyDir, "audit.pub")
	if err := SavePublicKey(pubFile, pub); err != nil {
		t.Fatal(err)
	}
	tampered := t.TempDir()
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		data = bytes.Replace(data, []byte("alice@"), []byte("alicf@"), 1)
		if err := os.WriteFile(filepath.Join(tampered, filepath.Base(f)), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name    string
		args    []string
		code    int
		wantOut string
		wantErr string
	}{
		{"ok, flag after file", []string{path, "--pubkey", pubFile}, ExitOK, "audit chain OK", ""},
		{"ok, flag before dir", []string{"-pubkey", pubFile, filepath.Dir(path)}, ExitOK, "audit chain OK", ""},
		{"ok without key", []string{path}, ExitOK, "signatures NOT verified", ""},
		{"tampered", []string{tampered, "--pubkey", pubFile}, ExitTampered, "hash_mismatch", ""},
		{"no files", []string{"--pubkey", pubFile}, ExitUsage, "", "usage"},
		{"missing file", []string{filepath.Join(keyDir, "none")}, ExitUsage, "", "no such file"},
		{"bad key file", []string{path, "--pubkey", path}, ExitUsage, "", "public key"},
		{"unknown flag", []string{path, "--frobnicate"}, ExitUsage, "", "frobnicate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := RunVerify(context.Background(), tt.args, &stdout, &stderr)
			if code != tt.code {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, &stdout, &stderr)
			}
			if !strings.Contains(stdout.String(), tt.wantOut) || !strings.Contains(stderr.String(), tt.wantErr) {
				t.Errorf("stdout %q / stderr %q, want %q / %q", &stdout, &stderr, tt.wantOut, tt.wantErr)
			}
		})
	}
}

func BenchmarkVerify(b *testing.B) {
	pub, priv := testKey(b)
	path, _ := buildChain(b, priv)
	for b.Loop() {
		if rep := mustVerify(b, VerifyOptions{Files: []string{path}, PublicKey: pub}); !rep.OK() {
			b.Fatal(rep)
		}
	}
}
