package audit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/interlock-dev/interlock/testenv"
)

func TestOpenCreatesFileAndGenesis(t *testing.T) {
	path := tempPath(t)
	l := mustOpen(t, Config{Path: path})
	for _, c := range []struct {
		path string
		want os.FileMode
	}{{path, 0o600}, {filepath.Dir(path), 0o700 | os.ModeDir}} {
		st, err := os.Stat(c.path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode() != c.want {
			t.Errorf("mode of %s = %v, want %v", c.path, st.Mode(), c.want)
		}
	}
	if next, prev := l.Head(); next != 1 || prev == genesisPrev {
		t.Errorf("Head() = %d, %s; want 1 and the hash of the genesis record", next, prev)
	}
	lines := readLines(t, path)
	if len(lines) != 1 {
		t.Fatalf("new chain has %d lines, want 1 (chain_start)", len(lines))
	}
	r := mustParse(t, lines[0])
	if r.Seq != 0 || r.Prev != genesisPrev || r.Type != TypeChainStart {
		t.Errorf("genesis = seq %d prev %s type %s; want 0, zeros, %s", r.Seq, r.Prev, r.Type, TypeChainStart)
	}
}

func TestRecordFormat(t *testing.T) {
	path := tempPath(t)
	now := time.Date(2026, 1, 2, 3, 4, 5, 600, time.FixedZone("cet", 3600))
	l := mustOpen(t, Config{Path: path, Clock: func() time.Time { return now }})
	var b Body
	b.Reset(TypeSessionStart)
	b.Str("user", "alice")
	if err := l.Write(b); err != nil {
		t.Fatal(err)
	}
	lines := readLines(t, path)
	sum := sha256.Sum256([]byte(lines[0]))
	want := fmt.Sprintf(`{"seq":1,"time":"2026-01-02T02:04:05.0000006Z","prev":"%s","type":"session_start","user":"alice"}`, hex.EncodeToString(sum[:]))
	if lines[1] != want {
		t.Errorf("record =\n%s\nwant\n%s", lines[1], want)
	}
}

// countFile counts write(2) calls.
type countFile struct {
	file
	writes int
}

func (c *countFile) Write(p []byte) (int, error) { c.writes++; return c.file.Write(p) }

func TestDeferWrittenWithNextWrite(t *testing.T) {
	path := tempPath(t)
	l := mustOpen(t, Config{Path: path, FlushDelay: time.Hour})
	cf := &countFile{file: l.f}
	l.mu.Lock()
	l.f = cf
	l.mu.Unlock()

	var b Body
	for i := range 3 {
		b.Reset(TypeStatementResult)
		b.Int("i", int64(i))
		l.Defer(b)
	}
	b.Reset(TypeStatement)
	b.Int("i", 3)
	if err := l.Write(b); err != nil {
		t.Fatal(err)
	}
	if cf.writes != 1 {
		t.Errorf("3 deferred records and a Write took %d write calls, want 1", cf.writes)
	}
	lines := readLines(t, path)[1:]
	var types []string
	for i, line := range lines {
		r := mustParse(t, line)
		if r.Seq != uint64(i+1) {
			t.Errorf("line %d has seq %d, want %d", i+2, r.Seq, i+1)
		}
		types = append(types, r.Type)
	}
	want := []string{TypeStatementResult, TypeStatementResult, TypeStatementResult, TypeStatement}
	if !slices.Equal(types, want) {
		t.Errorf("types = %v, want %v", types, want)
	}
}

func TestDeferFlushedInBackground(t *testing.T) {
	path := tempPath(t)
	l := mustOpen(t, Config{Path: path, FlushDelay: 20 * time.Millisecond})
	var b Body
	b.Reset(TypeStatementResult)
	b.Str("tag", "SELECT 1")
	l.Defer(b)
	testenv.WaitFor(t, 10*time.Second, "the deferred record to be flushed", func() bool { return len(readLines(t, path)) == 2 })
	if r := mustParse(t, readLines(t, path)[1]); r.Type != TypeStatementResult || r.Seq != 1 {
		t.Errorf("flushed record = %+v", r)
	}
}

func TestCheckpoints(t *testing.T) {
	pub, priv := testKey(t)
	path := tempPath(t)
	l := mustOpen(t, Config{Path: path, SigningKey: priv, CheckpointInterval: 10 * time.Millisecond})
	var b Body
	b.Reset(TypeStatement)
	if err := l.Write(b); err != nil {
		t.Fatal(err)
	}
	countCP := func() int {
		n := 0
		for _, line := range readLines(t, path) {
			if strings.Contains(line, `"type":"checkpoint"`) {
				n++
			}
		}
		return n
	}
	testenv.WaitFor(t, 10*time.Second, "a periodic checkpoint", func() bool { return countCP() == 1 })
	// Idle: an explicit checkpoint adds nothing.
	if err := l.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	if n := countCP(); n != 1 {
		t.Errorf("idle Checkpoint wrote a checkpoint: %d, want 1", n)
	}
	lines := readLines(t, path)
	cp := mustParse(t, lines[len(lines)-1])
	if cp.Final || cp.KeyID != KeyID(pub) || cp.Chain != cp.Prev || cp.CoveredSeq != cp.Seq-1 {
		t.Errorf("checkpoint = %+v", cp)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	lines = readLines(t, path)
	if last := mustParse(t, lines[len(lines)-1]); last.Type != TypeCheckpoint || !last.Final {
		t.Errorf("last record after Close = %+v, want a final checkpoint", last)
	}
	rep := mustVerify(t, VerifyOptions{Files: []string{path}, PublicKey: pub})
	if !rep.OK() || rep.ValidCheckpoints != 2 || !rep.Final {
		t.Errorf("report:\n%s", rep)
	}
}

func TestCloseTwiceAndWriteAfterClose(t *testing.T) {
	_, priv := testKey(t)
	path := tempPath(t)
	l := mustOpen(t, Config{Path: path, SigningKey: priv})
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
	var b Body
	b.Reset(TypeStatement)
	if err := l.Write(b); !errors.Is(err, ErrClosed) {
		t.Errorf("Write after Close = %v, want ErrClosed", err)
	}
	l.Defer(b)
	if n := len(readLines(t, path)); n != 2 {
		t.Errorf("file has %d lines after Close, want 2 (chain_start, final checkpoint)", n)
	}
}

func TestReopen(t *testing.T) {
	pub, priv := testKey(t)
	tests := []struct {
		name        string
		damage      func(t *testing.T, path string)
		wantReasons []string
		wantTorn    bool
	}{
		{name: "clean shutdown"},
		{
			name: "torn last line",
			damage: func(t *testing.T, path string) {
				f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				if _, err := f.WriteString(`{"seq":4,"time":"2026-`); err != nil {
					t.Fatal(err)
				}
			},
			wantReasons: []string{reasonTornLine},
			wantTorn:    true,
		},
		{
			name: "no final checkpoint",
			damage: func(t *testing.T, path string) {
				lines := readLines(t, path)
				writeLines(t, path, lines[:len(lines)-1])
			},
			wantReasons: []string{reasonUnclean},
		},
		{
			name: "live file missing after rotation",
			damage: func(t *testing.T, path string) {
				lines := readLines(t, path)
				last := mustParse(t, lines[len(lines)-1])
				if err := os.Rename(path, rotatedName(path, last.Seq)); err != nil {
					t.Fatal(err)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tempPath(t)
			cfg := Config{Path: path, SigningKey: priv, Logger: quietLogger()}
			l, err := Open(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			var b Body
			for i := range 2 {
				statementBody(&b, 1, i)
				if err := l.Write(b); err != nil {
					t.Fatal(err)
				}
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			if tt.damage != nil {
				tt.damage(t, path)
			}
			var lastSeq uint64
			for _, f := range chainFiles(t, path) {
				for _, line := range readLines(t, f) {
					if r, err := parseLine([]byte(line)); err == nil {
						lastSeq = r.Seq
					}
				}
			}

			l2 := mustOpen(t, cfg)
			if next, _ := l2.Head(); next <= lastSeq {
				t.Errorf("reopened Head = %d, want > %d", next, lastSeq)
			}
			statementBody(&b, 2, 0)
			if err := l2.Write(b); err != nil {
				t.Fatal(err)
			}
			if err := l2.Close(); err != nil {
				t.Fatal(err)
			}
			var reasons []string
			var torn int64
			for _, f := range chainFiles(t, path) {
				for _, line := range readLines(t, f) {
					if r := mustParse(t, line); r.Type == TypeRecovery {
						reasons, torn = r.Reasons, r.TornBytes
					}
				}
			}
			if !slices.Equal(reasons, tt.wantReasons) {
				t.Errorf("recovery reasons = %v, want %v", reasons, tt.wantReasons)
			}
			if tt.wantTorn && torn == 0 {
				t.Errorf("recovery record does not count the torn bytes")
			}
			rep := mustVerify(t, VerifyOptions{Files: []string{path}, PublicKey: pub})
			if !rep.OK() {
				t.Errorf("reopened chain does not verify:\n%s", rep)
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, path string)
		cfg   func(c *Config)
	}{
		{name: "path is a directory", setup: func(t *testing.T, path string) {
			if err := os.MkdirAll(path, 0o700); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "last record unreadable", setup: func(t *testing.T, path string) {
			os.MkdirAll(filepath.Dir(path), 0o700)
			writeLines(t, path, []string{"not json"})
		}},
		{name: "no path", cfg: func(c *Config) { c.Path = "" }},
		{name: "short key", cfg: func(c *Config) { c.SigningKey = make([]byte, 5) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tempPath(t)
			if tt.setup != nil {
				tt.setup(t, path)
			}
			cfg := Config{Path: path, Logger: quietLogger()}
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			l, err := Open(context.Background(), cfg)
			if err == nil {
				l.Close()
				t.Fatal("Open succeeded, want an error")
			}
		})
	}
}

// faultFile fails writes: partially (half the buffer reaches the file) or
// wholly, while fail is set.
type faultFile struct {
	file
	fail    bool
	partial bool
}

func (f *faultFile) Write(p []byte) (int, error) {
	if !f.fail {
		return f.file.Write(p)
	}
	if f.partial {
		n, _ := f.file.Write(p[:len(p)/2])
		return n, syscall.ENOSPC
	}
	return 0, syscall.ENOSPC
}

func TestWriteFailureRecovers(t *testing.T) {
	pub, priv := testKey(t)
	// swap makes the Log write to, and reopen, what open returns.
	swap := func(open func(path string) (file, error)) func(t *testing.T, l *Log) {
		return func(t *testing.T, l *Log) {
			f, err := open(l.cfg.Path)
			if err != nil {
				t.Fatalf("open the failing file (/dev/full must exist): %v", err)
			}
			l.f.Close()
			l.f, l.openFile = f, open
		}
	}
	reopen := func(l *Log) { l.openFile = openAppend }
	devFull := func(string) (*os.File, error) { return os.OpenFile("/dev/full", os.O_WRONLY, 0) }
	plain := func(open func(string) (*os.File, error)) func(string) (file, error) {
		return func(p string) (file, error) {
			f, err := open(p)
			if err != nil {
				return nil, err
			}
			return f, nil
		}
	}
	raw := func(open func(string) (*os.File, error)) func(string) (file, error) {
		return func(p string) (file, error) { return openRaw(open(p)) }
	}
	tests := []struct {
		name   string
		break_ func(t *testing.T, l *Log) // called with l.mu held
		heal   func(l *Log)               // called with l.mu held
	}{
		{
			name: "partial write then ENOSPC",
			break_: func(t *testing.T, l *Log) {
				l.f = &faultFile{file: l.f, fail: true, partial: true}
			},
			heal: func(l *Log) { l.f.(*faultFile).fail = false },
		},
		{name: "/dev/full", break_: swap(plain(devFull)), heal: reopen},
		{name: "/dev/full, raw writes", break_: swap(raw(devFull)), heal: reopen},
		{name: "file opened read-only", break_: swap(plain(os.Open)), heal: reopen},
		{name: "file opened read-only, raw writes", break_: swap(raw(os.Open)), heal: reopen},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tempPath(t)
			l := mustOpen(t, Config{Path: path, SigningKey: priv, FlushDelay: time.Hour})
			var b Body
			write := func(marker string) error {
				b.Reset(TypeStatement)
				b.Str("marker", marker)
				return l.Write(b)
			}
			if err := write("ok-before"); err != nil {
				t.Fatal(err)
			}
			b.Reset(TypeStatementResult)
			b.Str("marker", "deferred")
			l.Defer(b)
			headBefore, _ := l.Head()

			l.mu.Lock()
			tt.break_(t, l)
			l.mu.Unlock()
			for i := range 3 {
				if err := write(fmt.Sprintf("failed-%d", i)); err == nil {
					t.Fatalf("Write %d succeeded on a broken file", i)
				}
				if head, _ := l.Head(); head != headBefore {
					t.Errorf("Head after a failed write = %d, want %d", head, headBefore)
				}
			}
			l.mu.Lock()
			tt.heal(l)
			l.mu.Unlock()
			if err := write("ok-after"); err != nil {
				t.Fatalf("Write after healing: %v", err)
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}

			var markers []string
			for _, line := range readLines(t, path) {
				if m := regexp.MustCompile(`"marker":"([^"]*)"`).FindStringSubmatch(line); m != nil {
					markers = append(markers, m[1])
				}
			}
			if want := []string{"ok-before", "deferred", "ok-after"}; !slices.Equal(markers, want) {
				t.Errorf("records in the file = %v, want %v", markers, want)
			}
			rep := mustVerify(t, VerifyOptions{Files: []string{path}, PublicKey: pub})
			if !rep.OK() {
				t.Errorf("chain after recovery does not verify:\n%s", rep)
			}
		})
	}
}

func TestConcurrentWritersRotationCheckpoints(t *testing.T) {
	pub, priv := testKey(t)
	path := tempPath(t)
	l := mustOpen(t, Config{
		Path:               path,
		SigningKey:         priv,
		CheckpointInterval: 5 * time.Millisecond,
		FlushDelay:         time.Millisecond,
		RotateBytes:        32 << 10,
	})
	const sessions, perSession = 8, 150
	var wg sync.WaitGroup
	errs := make(chan error, sessions)
	for s := range sessions {
		wg.Go(func() {
			var b Body
			for i := range perSession {
				statementBody(&b, s, i)
				if err := l.Write(b); err != nil {
					errs <- err
					return
				}
				b.Reset(TypeStatementResult)
				b.Int("session_id", int64(s)).Int("n", int64(i)).Str("tag", "SELECT 50")
				l.Defer(b)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	files := chainFiles(t, path)
	if len(files) < 3 {
		t.Fatalf("got %d files, want rotation to have made several", len(files))
	}
	// Per session, records keep their order: statement n, result n, statement n+1...
	type key struct{ s, n int }
	next := map[int]int{}
	counts := map[string]int{}
	re := regexp.MustCompile(`"type":"(\w+)","session_id":(\d+),"n":(\d+)`)
	for i, f := range files {
		lines := readLines(t, f)
		if i > 0 && mustParse(t, lines[0]).Type != TypeRotate {
			t.Errorf("%s does not start with a rotate record", f)
		}
		for _, line := range lines {
			counts[mustParse(t, line).Type]++
			m := re.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			var s, n int
			fmt.Sscan(m[2], &s)
			fmt.Sscan(m[3], &n)
			step := 0
			if m[1] == TypeStatementResult {
				step = 1
			}
			if got, want := 2*n+step, next[s]; got != want {
				t.Fatalf("session %d: record %s %d out of order", s, m[1], n)
			}
			next[s]++
		}
	}
	if counts[TypeStatement] != sessions*perSession || counts[TypeStatementResult] != sessions*perSession {
		t.Errorf("counts = %v, want %d statements and results", counts, sessions*perSession)
	}
	rep := mustVerify(t, VerifyOptions{Files: []string{path}, PublicKey: pub})
	if !rep.OK() || !rep.Final || rep.Unsealed != 0 || rep.ValidCheckpoints != counts[TypeCheckpoint] {
		t.Errorf("report:\n%s", rep)
	}
	t.Logf("%d files, %d checkpoints, %d rotations", len(files), counts[TypeCheckpoint], counts[TypeRotate])
}

func TestFsync(t *testing.T) {
	pub, priv := testKey(t)
	path := tempPath(t)
	l := mustOpen(t, Config{Path: path, SigningKey: priv, Fsync: true})
	var b Body
	statementBody(&b, 1, 1)
	if err := l.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if rep := mustVerify(t, VerifyOptions{Files: []string{path}, PublicKey: pub}); !rep.OK() {
		t.Errorf("report:\n%s", rep)
	}
}

func TestWriteNoAllocs(t *testing.T) {
	_, priv := testKey(t)
	l := mustOpen(t, Config{Path: tempPath(t), SigningKey: priv, FlushDelay: time.Hour})
	var b, d Body
	statementBody(&b, 1, 1)
	d.Reset(TypeStatementResult)
	d.Str("tag", "SELECT 50").Int("rows", 50).Duration("duration_ns", time.Millisecond)
	for range 10 { // grow buffers
		l.Defer(d)
		l.Write(b)
	}
	if n := testing.AllocsPerRun(200, func() {
		l.Defer(d)
		if err := l.Write(b); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("Defer+Write allocates %v times, want 0", n)
	}
}

func BenchmarkWrite(b *testing.B) {
	for _, fsync := range []bool{false, true} {
		b.Run(fmt.Sprintf("fsync=%v", fsync), func(b *testing.B) {
			_, priv := testKey(b)
			l := mustOpen(b, Config{Path: filepath.Join(b.TempDir(), "audit.log"), SigningKey: priv, Fsync: fsync})
			var body Body
			statementBody(&body, 1, 1)
			b.ReportAllocs()
			b.SetBytes(int64(len(body.buf) + 130))
			for b.Loop() {
				if err := l.Write(body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkWriteParallel measures contention: every session writes to the
// one chain.
func BenchmarkWriteParallel(b *testing.B) {
	_, priv := testKey(b)
	l := mustOpen(b, Config{Path: filepath.Join(b.TempDir(), "audit.log"), SigningKey: priv})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		var body Body
		statementBody(&body, 1, 1)
		for pb.Next() {
			if err := l.Write(body); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func TestDeferBacklogDropsAndAlerts(t *testing.T) {
	pub, priv := testKey(t)
	path := tempPath(t)
	l := mustOpen(t, Config{Path: path, SigningKey: priv, FlushDelay: time.Hour})
	l.mu.Lock()
	l.maxPending = 1 // one queued record fills the backlog
	ff := &faultFile{file: l.f, fail: true}
	l.f = ff
	l.mu.Unlock()

	var b Body
	for i := range 3 {
		b.Reset(TypeStatementResult)
		b.Int("i", int64(i))
		l.Defer(b)
	}
	b.Reset(TypeStatement)
	if err := l.Write(b); err == nil {
		t.Fatal("Write succeeded on a failing file")
	}
	l.mu.Lock()
	ff.fail = false
	l.mu.Unlock()
	if err := l.Write(b); err != nil {
		t.Fatal(err)
	}
	var alert string
	var results int
	for _, line := range readLines(t, path) {
		switch mustParse(t, line).Type {
		case TypeAlert:
			alert = line
		case TypeStatementResult:
			results++
		}
	}
	if results != 1 || !strings.Contains(alert, `"reason":"deferred_records_dropped","count":2`) {
		t.Errorf("results = %d, alert = %q; want 1 result and an alert counting 2 dropped", results, alert)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if rep := mustVerify(t, VerifyOptions{Files: []string{path}, PublicKey: pub}); !rep.OK() {
		t.Errorf("report:\n%s", rep)
	}
}

func TestVerifyLiveWhileWriting(t *testing.T) {
	pub, priv := testKey(t)
	path := tempPath(t)
	l := mustOpen(t, Config{Path: path, SigningKey: priv, RotateBytes: 16 << 10, CheckpointInterval: 2 * time.Millisecond})
	const records = 2000
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		var b Body
		for i := range records {
			statementBody(&b, 1, i)
			if err := l.Write(b); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	testenv.WaitFor(t, 10*time.Second, "records and a rotation", func() bool { next, _ := l.Head(); return next > 100 })
	verified := 0
	for range 5 {
		rep, err := Verify(context.Background(), VerifyOptions{Files: []string{path}, PublicKey: pub, Live: true})
		if err != nil {
			t.Logf("Verify: %v", err) // rotations kept racing the listing
			continue
		}
		if !rep.OK() {
			t.Errorf("live chain:\n%s", rep)
			break
		}
		verified++
	}
	<-writerDone
	if verified == 0 {
		t.Error("no live verification completed")
	}
}

func TestTimeFormatter(t *testing.T) {
	var f timeFormatter
	base := time.Date(2026, 11, 28, 23, 59, 58, 0, time.FixedZone("x", 3600))
	for _, d := range []time.Duration{0, 1, 10, 120, 999_999_999, time.Second, time.Second + 500*time.Millisecond, 2*time.Second + 123_456_789, 3 * time.Second, 365 * 24 * time.Hour} {
		for _, tm := range []time.Time{base.Add(d), base.Add(-d)} {
			want := tm.UTC().Format(time.RFC3339Nano)
			if got := string(f.append(nil, tm)); got != want {
				t.Errorf("append(%v) = %s, want %s", tm, got, want)
			}
		}
	}
}

// openRaw wraps an os.OpenFile result in a rawFile.
func openRaw(f *os.File, err error) (file, error) {
	if err != nil {
		return nil, err
	}
	return newRawFile(f)
}

// TestSlowRawWriteFallsBack checks that a slow raw write switches the file
// to scheduler-aware writes and that records stay intact either way.
func TestSlowRawWriteFallsBack(t *testing.T) {
	path := tempPath(t)
	l := mustOpen(t, Config{Path: path, FlushDelay: time.Hour})
	l.mu.Lock()
	rf, ok := l.f.(*rawFile)
	if !ok {
		l.mu.Unlock()
		t.Fatalf("live audit file is a %T, want *rawFile", l.f)
	}
	if rf.slowUntil != 0 {
		t.Errorf("fallback active before any slow write (until %v)", rf.slowUntil)
	}
	rf.slowAt = 0 // every write counts as slow
	l.mu.Unlock()
	var b Body
	for i := range 3 {
		b.Reset(TypeStatement)
		b.Int("n", int64(i))
		if err := l.Write(b); err != nil {
			t.Fatal(err)
		}
		l.mu.Lock()
		until := rf.slowUntil
		l.mu.Unlock()
		if left := until - time.Since(rf.base); left <= 0 || left > slowFor {
			t.Fatalf("after a slow write the fallback lasts %v, want (0, %v]", left, slowFor)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if rep := mustVerify(t, VerifyOptions{Files: []string{path}}); !rep.OK() {
		t.Errorf("chain written through the fallback does not verify:\n%s", rep)
	}
	if n := strings.Count(strings.Join(readLines(t, path), "\n"), `"n":`); n != 3 {
		t.Errorf("%d records of 3 in the file", n)
	}
}
