package proxy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/interlock-dev/interlock/daemon/recording"
	"github.com/interlock-dev/interlock/testenv"
)

// TestSessionRecording: what the database returned, after masking, is
// recorded per session; denied statements are not.
func TestSessionRecording(t *testing.T) {
	e := newEnv(t, envOptions{policyData: maskingData(), initSQL: maskingInit, record: true})
	ctx := ctxT(t)
	c := e.connect(t, "carol", "readers")
	if _, err := c.Exec(ctx, "SELECT id, name, ssn FROM customers ORDER BY id", pgx.QueryExecModeSimpleProtocol); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := c.QueryRow(ctx, "SELECT count(*) FROM orders WHERE id > $1", 0).Scan(&n); err != nil {
		t.Fatal(err)
	}
	_, _ = c.Exec(ctx, "DROP TABLE customers")
	_ = c.Close(ctx)
	var rec *recording.Recording
	testenv.WaitFor(t, 10*time.Second, "the recording", func() bool {
		files, _ := filepath.Glob(filepath.Join(e.recDir, "*.jsonl"))
		if len(files) != 1 {
			return false
		}
		r, err := recording.ReadFile(files[0], recording.ReadOptions{MaxRows: 100})
		if err != nil || r.End == nil {
			return false
		}
		rec = r
		return true
	})
	if rec.Meta.User != "carol" {
		t.Fatalf("recording meta %+v", rec.Meta)
	}
	if len(rec.Statements) != 2 {
		t.Fatalf("recorded %d statements, want 2 (the denied DROP is not recorded)", len(rec.Statements))
	}
	first := rec.Statements[0]
	if !strings.Contains(first.Text, "ssn") || len(first.Rows) != 5 || first.Result == nil || first.Result.Tag != "SELECT 5" {
		t.Fatalf("first statement %+v", first)
	}
	var all strings.Builder
	for _, row := range first.Rows {
		for _, v := range row {
			all.WriteString(v.String() + "|")
		}
	}
	if l := leak([]byte(all.String())); l != "" {
		t.Fatalf("the recording holds unmasked %q", l)
	}
	if !strings.Contains(all.String(), "Ada Lovelace") {
		t.Fatalf("unmasked columns missing from the recording: %s", all.String())
	}
	if fi, err := os.Stat(filepath.Join(e.recDir)); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("recording dir mode: %v %v", fi.Mode(), err)
	}
}
