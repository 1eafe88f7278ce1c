package recording

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// ErrClosed is returned by Open after Close.
var ErrClosed = errors.New("recording: recorder closed")

// Ext is the file name extension of a recording.
const Ext = ".jsonl"

// cleanupEvery is how often recordings older than MaxAge are removed.
const cleanupEvery = time.Hour

// Recorder opens session recordings in one directory and writes them in
// the background. A nil *Recorder records nothing: Open returns a nil
// *Session, whose methods do nothing.
type Recorder struct {
	cfg Config
	log *slog.Logger

	mu       sync.Mutex
	sessions map[*Session]struct{}
	ids      map[string]struct{} // ids of open sessions (kept by cleanup)
	closed   bool

	stats     counters
	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

// counters are the Recorder's totals; sessions add to them as they flush.
type counters struct {
	sessions, openErrors, writeErrors, bytes atomic.Uint64
	rowsRecorded, rowsDropped, linesDropped  atomic.Uint64
	truncated, removed, removeErrors         atomic.Uint64
}

// Stats are a Recorder's counters since New, for metrics.
type Stats struct {
	// Sessions is the number of recordings opened; Open those open now.
	Sessions uint64
	Open     int
	// OpenErrors counts sessions that ran unrecorded because their file
	// could not be created.
	OpenErrors uint64
	// WriteErrors counts failed writes (and closes); each abandons the
	// rest of that session's recording.
	WriteErrors uint64
	// Bytes is what was written to recording files.
	Bytes uint64
	// RowsRecorded and RowsDropped count rows and COPY chunks recorded
	// and not recorded (past MaxRowsPerResult or MaxBytes, or after a
	// write failure). LinesDropped counts statements, results and notices
	// not recorded (past MaxBytes or after a write failure).
	RowsRecorded, RowsDropped, LinesDropped uint64
	// Truncated counts recordings that reached MaxBytes.
	Truncated uint64
	// Removed counts recordings deleted because of MaxAge; RemoveErrors
	// those that could not be.
	Removed, RemoveErrors uint64
}

// New prepares the directory, removes recordings older than MaxAge and
// starts the background flush.
func New(ctx context.Context, cfg Config) (*Recorder, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("create recording directory: %w", err)
	}
	st, err := os.Stat(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("recording directory: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("recording directory %s is not a directory", cfg.Dir)
	}
	r := &Recorder{
		cfg:      cfg,
		log:      cfg.Logger.With("component", "recording", "dir", cfg.Dir),
		sessions: map[*Session]struct{}{},
		ids:      map[string]struct{}{},
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	if st.Mode().Perm()&0o077 != 0 {
		r.log.Warn("the recording directory is accessible to other users; recordings hold query results", "mode", st.Mode().Perm().String())
	}
	if cfg.MaxAge > 0 {
		if err := r.removeOld(ctx); err != nil {
			return nil, err
		}
	}
	go r.run()
	return r, nil
}

// Path is the file of a session's recording.
func (r *Recorder) Path(sessionID string) string {
	return filepath.Join(r.cfg.Dir, sessionID+Ext)
}

// ValidSessionID reports whether id can name a recording file: 1 to 128
// ASCII letters, digits, '.', '_' or '-', not starting with '.'.
func ValidSessionID(id string) bool {
	if id == "" || len(id) > 128 || id[0] == '.' {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// Open creates the recording of a session, <Dir>/<sessionID>.jsonl, and
// writes its first line. It fails if the file exists. On error the
// session runs unrecorded (the proxy logs it; OpenErrors counts it).
func (r *Recorder) Open(sessionID string, meta SessionMeta) (*Session, error) {
	if r == nil {
		return nil, nil
	}
	s, err := r.open(sessionID, meta)
	if err != nil {
		r.stats.openErrors.Add(1)
		return nil, err
	}
	return s, nil
}

func (r *Recorder) open(id string, meta SessionMeta) (*Session, error) {
	if !ValidSessionID(id) {
		return nil, fmt.Errorf("recording: invalid session id %q", id)
	}
	r.mu.Lock()
	closed := r.closed
	r.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	path := r.Path(id)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create recording: %w", err)
	}
	s := newSession(r, id, f)
	s.mu.Lock()
	s.header(meta)
	s.flushLocked()
	failed := s.failed
	s.mu.Unlock()
	if failed {
		_ = f.Close()
		_ = os.Remove(path)
		return nil, fmt.Errorf("write recording header: %w", s.err)
	}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		_ = f.Close()
		_ = os.Remove(path)
		return nil, ErrClosed
	}
	r.sessions[s] = struct{}{}
	r.ids[id] = struct{}{}
	r.mu.Unlock()
	r.stats.sessions.Add(1)
	return s, nil
}

func (r *Recorder) forget(s *Session) {
	r.mu.Lock()
	delete(r.sessions, s)
	delete(r.ids, s.id)
	r.mu.Unlock()
}

// Stats returns the counters. Open sessions add theirs when they flush
// (at least every FlushInterval) and close.
func (r *Recorder) Stats() Stats {
	if r == nil {
		return Stats{}
	}
	r.mu.Lock()
	open := len(r.sessions)
	r.mu.Unlock()
	c := &r.stats
	return Stats{
		Sessions: c.sessions.Load(), Open: open, OpenErrors: c.openErrors.Load(),
		WriteErrors: c.writeErrors.Load(), Bytes: c.bytes.Load(),
		RowsRecorded: c.rowsRecorded.Load(), RowsDropped: c.rowsDropped.Load(), LinesDropped: c.linesDropped.Load(),
		Truncated: c.truncated.Load(), Removed: c.removed.Load(), RemoveErrors: c.removeErrors.Load(),
	}
}

// run flushes open sessions every FlushInterval and removes old
// recordings hourly.
func (r *Recorder) run() {
	defer close(r.done)
	tick := time.NewTicker(r.cfg.FlushInterval)
	defer tick.Stop()
	var clean <-chan time.Time
	if r.cfg.MaxAge > 0 {
		t := time.NewTicker(cleanupEvery)
		defer t.Stop()
		clean = t.C
	}
	var batch []*Session
	for {
		select {
		case <-r.stop:
			return
		case <-tick.C:
			batch = r.snapshot(batch[:0])
			for _, s := range batch {
				s.flush()
			}
			clear(batch)
		case <-clean:
			if err := r.removeOld(context.Background()); err != nil {
				r.log.Warn("remove old recordings", "err", err)
			}
		}
	}
}

func (r *Recorder) snapshot(dst []*Session) []*Session {
	r.mu.Lock()
	defer r.mu.Unlock()
	for s := range r.sessions {
		dst = append(dst, s)
	}
	return dst
}

// removeOld deletes recordings last written before now - MaxAge, except
// those of open sessions.
func (r *Recorder) removeOld(ctx context.Context) error {
	entries, err := os.ReadDir(r.cfg.Dir)
	if err != nil {
		return fmt.Errorf("list recordings: %w", err)
	}
	limit := r.cfg.Clock().Add(-r.cfg.MaxAge)
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("remove old recordings: %w", err)
		}
		name := e.Name()
		id, ok := strings.CutSuffix(name, Ext)
		if !ok || !e.Type().IsRegular() || !ValidSessionID(id) {
			continue
		}
		r.mu.Lock()
		_, open := r.ids[id]
		r.mu.Unlock()
		info, err := e.Info()
		if open || err != nil || !info.ModTime().Before(limit) {
			continue
		}
		if err := os.Remove(filepath.Join(r.cfg.Dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			r.stats.removeErrors.Add(1)
			r.log.Warn("remove old recording", "file", name, "err", err)
			continue
		}
		r.stats.removed.Add(1)
	}
	return nil
}

// Close ends the recordings still open (reason "recorder_closed") and
// stops the background work. Calling it twice is safe.
func (r *Recorder) Close() error {
	if r == nil {
		return nil
	}
	r.closeOnce.Do(func() {
		r.mu.Lock()
		r.closed = true
		r.mu.Unlock()
		close(r.stop)
		<-r.done
		for _, s := range r.snapshot(nil) {
			s.Close("recorder_closed")
		}
	})
	return nil
}
