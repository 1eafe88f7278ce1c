package recording

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/interlock-dev/interlock/testenv"
)

func TestSessionRecordsWhatTheClientGot(t *testing.T) {
	r := mustNew(t, Config{})
	s := mustOpen(t, r, "0011223344556677")
	s.Statement(1, "SELECT id, email, blob, note FROM users")
	s.RowDescription(1, rowDescription(t, []string{"id", "email", "blob", "note"}, []int16{0, 0, 1, 0}))
	s.DataRow(1, dataRow(t, []byte("1"), []byte("***"), []byte{0, 1, 2}, nil), nil)
	s.DataRow(1, dataRow(t, []byte("2"), []byte(""), nil, []byte{0xc3, 0x28}), nil)
	s.Result(1, "SELECT 2", "", "")
	s.Statement(2, "SELECT $1::int4")
	s.DataRow(2, dataRow(t, []byte{0, 0, 0, 7}), []int16{1})
	s.Result(2, "SELECT 1", "", "")
	s.Statement(3, "COPY users TO STDOUT")
	s.CopyData(3, []byte("1\t***\n"))
	s.Result(3, "COPY 1", "", "")
	s.Notice("approval request 7f3a is pending")
	s.Statement(4, "SELECT 1/0")
	s.Result(4, "", "22012", "division by zero")
	s.Close("client_terminated")
	s.Close("again") // no-op

	path := r.Path("0011223344556677")
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("file mode %v, want 0600", st.Mode().Perm())
	}
	dst, err := os.Stat(r.cfg.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if dst.Mode().Perm() != 0o700 {
		t.Errorf("dir mode %v, want 0700", dst.Mode().Perm())
	}
	ls := lines(t, path)
	if ls[0]["t"] != "session" || ls[0]["user"] != "bob" || ls[0]["endpoint"] != "prod" {
		t.Fatalf("first line %v", ls[0])
	}
	if last := ls[len(ls)-1]; last["t"] != "end" || last["reason"] != "client_terminated" || last["rows_recorded"] != 4.0 {
		t.Fatalf("last line %v", last)
	}
	if n := countType(ls, "end"); n != 1 {
		t.Fatalf("%d end lines, want 1", n)
	}

	rec, err := ReadFile(path, ReadOptions{MaxRows: -1})
	if err != nil {
		t.Fatal(err)
	}
	if rec.Meta.Session != "0011223344556677" || rec.End == nil || rec.TornTail || rec.BadLines != 0 {
		t.Fatalf("recording %+v", rec)
	}
	s1 := rec.Statement(1)
	if s1 == nil || s1.Text != "SELECT id, email, blob, note FROM users" || strings.Join(s1.Columns, ",") != "id,email,blob,note" {
		t.Fatalf("statement 1: %+v", s1)
	}
	if len(s1.Rows) != 2 || s1.Result == nil || s1.Result.Tag != "SELECT 2" || s1.Result.RowsRecorded != 2 {
		t.Fatalf("statement 1 rows/result: %+v %+v", s1.Rows, s1.Result)
	}
	want := [][]string{{"1", "***", `\x000102`, "NULL"}, {"2", "", "NULL", "\xc3("}}
	for i, row := range s1.Rows {
		for j, v := range row {
			if v.String() != want[i][j] {
				t.Errorf("row %d col %d: got %q, want %q", i, j, v.String(), want[i][j])
			}
		}
	}
	if !s1.Rows[0][2].Binary || s1.Rows[1][3].Binary {
		t.Errorf("formats not kept: %+v", s1.Rows)
	}
	if v := rec.Statement(2).Rows[0][0]; !v.Binary || string(v.Data) != "\x00\x00\x00\x07" {
		t.Errorf("binary row value %+v", v)
	}
	if c := rec.Statement(3).Copy; len(c) != 1 || string(c[0].Data) != "1\t***\n" {
		t.Errorf("copy %+v", c)
	}
	if res := rec.Statement(4).Result; res == nil || res.ErrorCode != "22012" || res.Error != "division by zero" {
		t.Errorf("error result %+v", res)
	}
	if len(rec.Notices) != 1 || !strings.Contains(rec.Notices[0].Message, "7f3a") {
		t.Errorf("notices %+v", rec.Notices)
	}
	stats := r.Stats()
	if stats.Sessions != 1 || stats.Open != 0 || stats.RowsRecorded != 4 || stats.WriteErrors != 0 || stats.Bytes == 0 {
		t.Errorf("stats %+v", stats)
	}
}

func TestStatementTextIsBounded(t *testing.T) {
	r := mustNew(t, Config{MaxStatementBytes: 10})
	s := mustOpen(t, r, "s1")
	s.Statement(1, "SELECT 'ééééééé'")
	s.Close("done")
	rec, err := ReadFile(r.Path("s1"), ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st := rec.Statement(1)
	if !st.TextTruncated || st.Text != "SELECT 'é" {
		t.Fatalf("got %q truncated=%v", st.Text, st.TextTruncated)
	}
}

func TestMaxRowsPerResult(t *testing.T) {
	r := mustNew(t, Config{MaxRowsPerResult: 3})
	s := mustOpen(t, r, "s1")
	for n := uint64(1); n <= 2; n++ {
		s.Statement(n, "SELECT generate_series(1, 5)")
		for i := range 5 {
			s.DataRow(n, dataRow(t, fmt.Appendf(nil, "%d", i)), nil)
		}
		s.Result(n, "SELECT 5", "", "")
	}
	s.Close("done")
	rec, err := ReadFile(r.Path("s1"), ReadOptions{MaxRows: -1})
	if err != nil {
		t.Fatal(err)
	}
	for n := uint64(1); n <= 2; n++ {
		st := rec.Statement(n)
		if len(st.Rows) != 3 || st.Result.RowsRecorded != 3 || st.Result.RowsDropped != 2 {
			t.Fatalf("statement %d: %d rows, result %+v", n, len(st.Rows), st.Result)
		}
	}
	if rec.Truncated != nil || rec.End.Truncated {
		t.Fatal("a row cap is not a truncation")
	}
	if st := r.Stats(); st.RowsRecorded != 6 || st.RowsDropped != 4 {
		t.Fatalf("stats %+v", st)
	}
}

func TestBoundedSize(t *testing.T) {
	const maxBytes = MinMaxBytes
	r := mustNew(t, Config{MaxBytes: maxBytes, MaxRowsPerResult: -1})
	s := mustOpen(t, r, "big")
	value := []byte(strings.Repeat("x", 500))
	s.Statement(1, "SELECT repeat('x', 500) FROM generate_series(1, 1000)")
	for range 1000 {
		s.DataRow(1, dataRow(t, value), nil)
	}
	s.Result(1, "SELECT 1000", "", "")
	// Statements and results go on after the rows stopped, up to the limit.
	s.Statement(2, "SELECT 1")
	s.DataRow(2, dataRow(t, []byte("1")), nil)
	s.Result(2, "SELECT 1", "", "")
	for n := uint64(3); n < 200; n++ {
		s.Statement(n, strings.Repeat("-- padding\n", 20)+"SELECT 1")
		s.Result(n, "SELECT 1", "", "")
	}
	s.Close("client_terminated")

	path := r.Path("big")
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() > maxBytes {
		t.Fatalf("file is %d bytes, limit %d", st.Size(), maxBytes)
	}
	ls := lines(t, path)
	if n := countType(ls, "truncated"); n != 1 {
		t.Fatalf("%d truncated lines, want 1", n)
	}
	if ls[len(ls)-1]["t"] != "end" || ls[len(ls)-1]["truncated"] != true {
		t.Fatalf("last line %v", ls[len(ls)-1])
	}
	rec, err := ReadFile(path, ReadOptions{MaxRows: -1})
	if err != nil {
		t.Fatal(err)
	}
	s1 := rec.Statement(1)
	if s1.Result == nil || s1.Result.RowsRecorded == 0 || s1.Result.RowsRecorded+s1.Result.RowsDropped != 1000 {
		t.Fatalf("statement 1 result %+v", s1.Result)
	}
	if s2 := rec.Statement(2); s2 == nil || s2.Result == nil || len(s2.Rows) != 0 || s2.Result.RowsDropped != 1 {
		t.Fatalf("statement 2 (after truncation) %+v", s2)
	}
	if rec.Statement(199) != nil {
		t.Fatal("statements past the limit were recorded")
	}
	stats := r.Stats()
	if stats.Truncated != 1 || stats.LinesDropped == 0 || stats.RowsDropped != 1000-s1.Result.RowsRecorded+1 {
		t.Fatalf("stats %+v", stats)
	}
}

func TestConcurrentWriters(t *testing.T) {
	r := mustNew(t, Config{FlushInterval: time.Millisecond, MaxRowsPerResult: -1})
	s := mustOpen(t, r, "race")
	const statements, rows = 200, 50
	var wg sync.WaitGroup
	wg.Go(func() { // the frontend loop
		for n := uint64(1); n <= statements; n++ {
			s.Statement(n, "SELECT g, 'row' FROM generate_series(1, 50) g")
		}
	})
	wg.Go(func() { // the backend loop
		body := dataRow(t, []byte("42"), []byte(strings.Repeat("v", 100)))
		for n := uint64(1); n <= statements; n++ {
			s.RowDescription(n, rowDescription(t, []string{"g", "text"}, []int16{0, 0}))
			for range rows {
				s.DataRow(n, body, nil)
			}
			s.Result(n, "SELECT 50", "", "")
		}
	})
	wg.Go(func() { // notices arrive from the backend, approvals from elsewhere
		for range 100 {
			s.Notice("hello")
		}
	})
	wg.Wait()
	s.Close("done")
	ls := lines(t, r.Path("race"))
	if got := countType(ls, "row"); got != statements*rows {
		t.Fatalf("%d rows, want %d", got, statements*rows)
	}
	if got := countType(ls, "statement"); got != statements {
		t.Fatalf("%d statements, want %d", got, statements)
	}
	if got := countType(ls, "notice"); got != 100 {
		t.Fatalf("%d notices, want 100", got)
	}
	if st := r.Stats(); st.RowsRecorded != statements*rows || st.RowsDropped != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestFlush(t *testing.T) {
	t.Run("on close", func(t *testing.T) {
		r := mustNew(t, Config{FlushInterval: time.Hour})
		s := mustOpen(t, r, "s1")
		s.Statement(1, "SELECT 1")
		s.DataRow(1, dataRow(t, []byte("1")), nil)
		s.Result(1, "SELECT 1", "", "")
		if n := len(lines(t, r.Path("s1"))); n != 1 {
			t.Fatalf("%d lines before close, want only the session line (writes are buffered)", n)
		}
		s.Close("done")
		if ls := lines(t, r.Path("s1")); len(ls) != 5 || ls[4]["t"] != "end" {
			t.Fatalf("after close: %v", ls)
		}
	})
	t.Run("periodically", func(t *testing.T) {
		r := mustNew(t, Config{FlushInterval: 10 * time.Millisecond})
		s := mustOpen(t, r, "s2")
		s.Statement(1, "SELECT 1")
		testenv.WaitFor(t, 10*time.Second, "the background flush", func() bool { return len(lines(t, r.Path("s2"))) == 2 })
		if r.Stats().Open != 1 {
			t.Fatal("session not counted as open")
		}
	})
	t.Run("recorder close ends open sessions", func(t *testing.T) {
		r := mustNew(t, Config{FlushInterval: time.Hour})
		s := mustOpen(t, r, "s3")
		s.Statement(1, "SELECT 1")
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
		if err := r.Close(); err != nil {
			t.Fatal("second Close:", err)
		}
		ls := lines(t, r.Path("s3"))
		if last := ls[len(ls)-1]; last["t"] != "end" || last["reason"] != "recorder_closed" {
			t.Fatalf("last line %v", last)
		}
		s.Statement(2, "SELECT 2") // after close: ignored
		if _, err := r.Open("s4", SessionMeta{}); err == nil {
			t.Fatal("Open after Close succeeded")
		}
	})
}

func TestWriteFailureIsCountedNotFatal(t *testing.T) {
	r := mustNew(t, Config{FlushInterval: time.Hour})
	s := mustOpen(t, r, "full")
	// A real write error: swap the file for /dev/full (ENOSPC).
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Fatalf("open /dev/full: %v", err)
	}
	s.wmu.Lock()
	s.f.Close()
	s.f = full
	s.wmu.Unlock()

	s.Statement(1, "SELECT 1")
	s.DataRow(1, dataRow(t, []byte("1")), nil)
	s.Result(1, "SELECT 1", "", "")
	s.flush()
	st := r.Stats()
	if st.WriteErrors != 1 {
		t.Fatalf("WriteErrors %d, want 1", st.WriteErrors)
	}
	// Every later call is dropped and counted, and nothing blocks or panics.
	s.Statement(2, "SELECT 2")
	s.DataRow(2, dataRow(t, []byte("2")), nil)
	s.Result(2, "SELECT 1", "", "")
	s.Close("done")
	st = r.Stats()
	if st.WriteErrors != 1 || st.RowsDropped != 1 || st.LinesDropped != 2 || st.Open != 0 {
		t.Fatalf("stats %+v", st)
	}
	if ls := lines(t, r.Path("full")); len(ls) != 1 {
		t.Fatalf("recording holds %d lines, want the session line only", len(ls))
	}
}

func TestOpen(t *testing.T) {
	r := mustNew(t, Config{})
	mustOpen(t, r, "dup")
	for _, id := range []string{"dup", "", "../etc/passwd", "a/b", ".hidden", strings.Repeat("a", 129)} {
		if s, err := r.Open(id, SessionMeta{}); err == nil || s != nil {
			t.Errorf("Open(%q) succeeded", id)
		}
	}
	if st := r.Stats(); st.OpenErrors != 6 || st.Sessions != 1 {
		t.Fatalf("stats %+v", st)
	}

	var none *Recorder
	s, err := none.Open("x", SessionMeta{})
	if s != nil || err != nil {
		t.Fatal("a nil Recorder records")
	}
	// A nil Session ignores everything.
	s.Statement(1, "x")
	s.RowDescription(1, nil)
	s.DataRow(1, nil, nil)
	s.CopyData(1, nil)
	s.SkipRow(1)
	s.Result(1, "", "", "")
	s.Notice("x")
	s.Close("x")
	if none.Close() != nil || none.Stats() != (Stats{}) {
		t.Fatal("nil Recorder")
	}
}

func TestMalformedMessagesAreDropped(t *testing.T) {
	r := mustNew(t, Config{})
	s := mustOpen(t, r, "bad")
	good := dataRow(t, []byte("1"), nil)
	for _, body := range [][]byte{nil, {0}, {0, 1}, {0, 1, 0, 0, 0, 9, 'a'}, {0, 1, 0xff, 0xff, 0xff, 0xfe}, append(append([]byte{}, good...), 'x'), {0xff, 0xff}} {
		s.DataRow(1, body, nil)
	}
	s.RowDescription(1, []byte{0, 1, 'a'})
	s.DataRow(1, good, nil)
	s.SkipRow(1) // streamed through, never held
	s.Result(1, "SELECT 1", "", "")
	s.Close("done")
	rec, err := ReadFile(r.Path("bad"), ReadOptions{MaxRows: -1})
	if err != nil {
		t.Fatal(err)
	}
	st := rec.Statement(1)
	if len(st.Rows) != 1 || st.Result.RowsDropped != 8 || st.Columns != nil {
		t.Fatalf("got %+v / %+v", st.Rows, st.Result)
	}
}

func TestColumnsLine(t *testing.T) {
	r := mustNew(t, Config{})
	s := mustOpen(t, r, "cols")
	s.RowDescription(1, rowDescription(t, []string{"a", "b\"c"}, []int16{0, 0}))
	s.Close("done")
	ls := lines(t, r.Path("cols"))
	got, _ := json.Marshal(ls[1]["names"])
	if string(got) != `["a","b\"c"]` {
		t.Fatalf("names %s", got)
	}
}

func TestDataRowDoesNotAllocate(t *testing.T) {
	r := mustNew(t, Config{FlushInterval: time.Hour, MaxRowsPerResult: -1, MaxBytes: 1 << 30})
	s := mustOpen(t, r, "allocs")
	s.RowDescription(1, rowDescription(t, []string{"id", "name", "blob"}, []int16{0, 0, 1}))
	body := dataRow(t, []byte("12345"), []byte("Jane \"Doe\" <jane@example.com>"), []byte{1, 2, 3, 4, 5, 6, 7, 8})
	for range 2000 { // grow the buffers and go through a few flushes
		s.DataRow(1, body, nil)
	}
	if a := testing.AllocsPerRun(1000, func() { s.DataRow(1, body, nil) }); a != 0 {
		t.Fatalf("DataRow allocates %.1f times per row", a)
	}
}

func BenchmarkDataRow(b *testing.B) {
	r := mustNew(b, Config{MaxRowsPerResult: -1, MaxBytes: 1 << 40})
	s := mustOpen(b, r, "bench")
	body := dataRow(b, []byte("12345"), []byte("Jane \"Doe\" <jane@example.com>"), []byte("2026-03-01 12:00:00+00"), nil, []byte(strings.Repeat("lorem ipsum ", 8)))
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		s.DataRow(1, body, nil)
	}
}
