package recording

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
)

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// fixedClock is 2026-03-01 12:00:00 UTC.
func fixedClock() time.Time { return time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC) }

// mustNew starts a Recorder in a fresh directory and closes it at cleanup.
func mustNew(tb testing.TB, cfg Config) *Recorder {
	tb.Helper()
	if cfg.Dir == "" {
		cfg.Dir = filepath.Join(tb.TempDir(), "sessions")
	}
	if cfg.Logger == nil {
		cfg.Logger = quietLogger()
	}
	if cfg.Clock == nil {
		cfg.Clock = fixedClock
	}
	r, err := New(context.Background(), cfg)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	tb.Cleanup(func() { r.Close() })
	return r
}

func mustOpen(tb testing.TB, r *Recorder, id string) *Session {
	tb.Helper()
	s, err := r.Open(id, SessionMeta{User: "bob", Endpoint: "prod", Database: "app", Start: fixedClock()})
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	return s
}

// dataRow is the body of a DataRow message (nil values are NULL).
func dataRow(tb testing.TB, values ...[]byte) []byte {
	tb.Helper()
	b, err := (&pgproto3.DataRow{Values: values}).Encode(nil)
	if err != nil {
		tb.Fatal(err)
	}
	return b[5:]
}

// rowDescription is the body of a RowDescription message.
func rowDescription(tb testing.TB, names []string, formats []int16) []byte {
	tb.Helper()
	rd := &pgproto3.RowDescription{}
	for i, n := range names {
		rd.Fields = append(rd.Fields, pgproto3.FieldDescription{Name: []byte(n), DataTypeOID: 25, DataTypeSize: -1, TypeModifier: -1, Format: formats[i]})
	}
	b, err := rd.Encode(nil)
	if err != nil {
		tb.Fatal(err)
	}
	return b[5:]
}

// lines reads a recording file as JSON objects, failing on any line that
// is not one.
func lines(tb testing.TB, path string) []map[string]any {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		tb.Fatalf("%s does not end with a newline", path)
	}
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			tb.Fatalf("line %d is not JSON: %v: %q", len(out)+1, err, sc.Text())
		}
		out = append(out, m)
	}
	return out
}

// countType counts lines of type t.
func countType(ls []map[string]any, t string) int {
	n := 0
	for _, l := range ls {
		if l["t"] == t {
			n++
		}
	}
	return n
}
