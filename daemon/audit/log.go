package audit

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"time"
)

// ErrClosed is returned by Write after Close.
var ErrClosed = errors.New("audit: log is closed")

// maxPending bounds the deferred records held while writes fail. Past it,
// Defer drops records (they get no seq) and the next successful write adds
// an alert record counting them.
const maxPending = 8 << 20

// genesisPrev is the prev of the first record of a new chain.
const genesisPrev = "0000000000000000000000000000000000000000000000000000000000000000"

// file is what the Log needs of its open file; tests substitute failing ones.
type file interface {
	Write(p []byte) (int, error)
	Truncate(size int64) error
	Sync() error
	Close() error
}

func openAppend(path string) (file, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err // the caller wraps
	}
	return f, nil
}

// Log is an open audit chain. All methods are safe for concurrent use; the
// records of all sessions form one totally ordered chain.
type Log struct {
	cfg      Config
	log      *slog.Logger
	keyID    string
	openFile func(path string) (file, error)

	mu       sync.Mutex
	f        file
	closed   bool
	seq      uint64   // seq of the next record
	prev     [64]byte // hex SHA-256 of the last line assigned a seq
	size     int64    // bytes of the live file known good
	pending  []byte   // deferred lines with seq assigned, not yet written
	dirty    bool     // a failed write may have left bytes past size
	dropped  uint64   // deferred records refused while pending was full
	sealed   uint64   // l.seq right after the last checkpoint
	rotateAt int64    // size at which the next rotation is attempted
	sys      Body     // scratch for records the Log writes itself
	scratch  []byte   // scratch for signed messages
	failing  bool     // in a failure streak (for logging)

	kick      chan struct{}
	done      chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// Open opens or creates the audit chain at cfg.Path and continues it: the
// last line gives the next seq and prev. A torn last line (a write cut by a
// crash) is cut away and a recovery record says so, as does a chain that did
// not end with a final checkpoint when a signing key is configured. If the
// live file is missing but rotated files exist, the chain continues from the
// newest of them with a rotate record.
func Open(ctx context.Context, cfg Config) (*Log, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("open audit log: %w", err)
	}
	l := &Log{
		cfg:      cfg,
		log:      cfg.Logger.With("component", "audit", "path", cfg.Path),
		openFile: openAppend,
		kick:     make(chan struct{}, 1),
		done:     make(chan struct{}),
	}
	if cfg.SigningKey != nil {
		l.keyID = KeyID(cfg.SigningKey.Public().(ed25519.PublicKey))
	}
	if err := l.open(); err != nil {
		return nil, err
	}
	l.wg.Add(1)
	go l.run()
	return l, nil
}

// MaxStatementBytes is the bound on statement text the proxy stores in a
// record (Config.MaxStatementBytes).
func (l *Log) MaxStatementBytes() int { return l.cfg.MaxStatementBytes }

// KeyID is the fingerprint of the signing key, or "" without one.
func (l *Log) KeyID() string { return l.keyID }

// Head returns the seq and prev the next record will get. It includes
// deferred records not yet written.
func (l *Log) Head() (next uint64, prev string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.seq, string(l.prev[:])
}

// Write appends one record synchronously: when it returns nil, the record
// (and every record Defer'd before it, in the same write(2)) is in the file,
// and fsync'd if Config.Fsync. On error nothing of this call is in the file
// and the chain is unchanged: the caller must not act on the audited event
// (the proxy refuses the statement). Later calls retry; the chain resumes
// where the last good write ended.
func (l *Log) Write(body Body) error {
	if body.err != nil {
		return body.err
	}
	if len(body.buf) == 0 {
		return ErrEmptyBody
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	return l.commitLocked(body.buf)
}

// Defer queues a record to be written with the next Write, or by a
// background flush within Config.FlushDelay. Its seq and prev are assigned
// now, so the chain orders it exactly where Defer was called. Defer never
// blocks on I/O; a malformed body, a closed Log or a backlog over 8 MiB
// (writes failing for a long time) drops the record and logs it, and the
// backlog case is counted in an alert record at the next successful write.
func (l *Log) Defer(body Body) {
	if body.err != nil || len(body.buf) == 0 {
		err := body.err
		if err == nil {
			err = ErrEmptyBody
		}
		l.log.Error("audit record dropped", "error", err)
		return
	}
	l.mu.Lock()
	switch {
	case l.closed:
		l.mu.Unlock()
		l.log.Error("audit record dropped", "error", ErrClosed)
		return
	case len(l.pending) >= maxPending:
		l.dropped++
		l.mu.Unlock()
		return
	}
	wasEmpty := len(l.pending) == 0
	l.pending = l.appendRecord(l.pending, body.buf)
	l.mu.Unlock()
	if wasEmpty {
		select {
		case l.kick <- struct{}{}:
		default:
		}
	}
}

// Checkpoint writes a signed checkpoint now (with any deferred records
// before it). It does nothing without a signing key.
func (l *Log) Checkpoint() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	return l.checkpointLocked(false)
}

// Close writes deferred records and a final signed checkpoint, fsyncs and
// closes the file. Records written after Close are refused. Close is safe to
// call twice; the second call returns nil.
func (l *Log) Close() error {
	var err error
	l.closeOnce.Do(func() {
		close(l.done)
		l.wg.Wait()
		l.mu.Lock()
		defer l.mu.Unlock()
		l.closed = true
		var errs []error
		if l.cfg.SigningKey != nil {
			errs = append(errs, l.checkpointLocked(true))
		} else {
			errs = append(errs, l.writeRecordsLocked(nil, false))
		}
		if err := l.f.Sync(); err != nil {
			errs = append(errs, fmt.Errorf("fsync audit file: %w", err))
		}
		if err := l.f.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close audit file: %w", err))
		}
		err = errors.Join(errs...)
	})
	return err
}

// run flushes deferred records and writes periodic checkpoints.
func (l *Log) run() {
	defer l.wg.Done()
	flush := time.NewTimer(time.Hour)
	flush.Stop()
	armed := false
	var cpC <-chan time.Time
	if l.cfg.SigningKey != nil {
		t := time.NewTicker(l.cfg.CheckpointInterval)
		defer t.Stop()
		cpC = t.C
	}
	for {
		select {
		case <-l.done:
			flush.Stop()
			return
		case <-l.kick:
			if !armed {
				flush.Reset(l.cfg.FlushDelay)
				armed = true
			}
		case <-flush.C:
			armed = false
			l.mu.Lock()
			err := l.commitLocked(nil)
			retry := len(l.pending) > 0
			l.mu.Unlock()
			if err != nil || retry {
				flush.Reset(l.cfg.FlushDelay)
				armed = true
			}
		case <-cpC:
			l.mu.Lock()
			err := l.checkpointLocked(false)
			l.mu.Unlock()
			if err != nil {
				l.log.Error("audit checkpoint", "error", err)
			}
		}
	}
}

// appendRecord appends one complete line for body to dst, assigning it the
// next seq and the current prev, and advances the chain.
func (l *Log) appendRecord(dst, body []byte) []byte {
	start := len(dst)
	dst, _ = l.appendHeader(dst, l.cfg.Clock())
	dst = append(dst, body...)
	dst = append(dst, '}')
	return l.seal(dst, start)
}

// appendHeader appends {"seq":N,"time":"T","prev":"P", for the next record
// and returns where T starts.
func (l *Log) appendHeader(dst []byte, now time.Time) ([]byte, int) {
	dst = append(dst, `{"seq":`...)
	dst = strconv.AppendUint(dst, l.seq, 10)
	dst = append(dst, `,"time":"`...)
	timeAt := len(dst)
	dst = now.UTC().AppendFormat(dst, time.RFC3339Nano)
	dst = append(dst, `","prev":"`...)
	dst = append(dst, l.prev[:]...)
	return append(dst, `",`...), timeAt
}

// seal hashes the line dst[start:], advances the chain and adds the newline.
func (l *Log) seal(dst []byte, start int) []byte {
	sum := sha256.Sum256(dst[start:])
	hex.Encode(l.prev[:], sum[:])
	l.seq++
	return append(dst, '\n')
}

// commitLocked writes the deferred records, a drop alert if due and body
// (if not nil) in one write, then rotates if the file grew past RotateBytes.
func (l *Log) commitLocked(body []byte) error {
	if err := l.writeRecordsLocked(body, l.cfg.Fsync); err != nil {
		return err
	}
	l.maybeRotateLocked()
	return nil
}

// writeRecordsLocked is commitLocked without rotation. On failure the file
// is cut back to its last good size and the chain to its state before the
// call (deferred records stay queued).
func (l *Log) writeRecordsLocked(body []byte, sync bool) error {
	if err := l.recoverLocked(); err != nil {
		return err
	}
	mark, seq, prev := len(l.pending), l.seq, l.prev
	dropped := l.dropped
	if dropped > 0 {
		l.sys.Reset(TypeAlert)
		l.sys.Str("reason", "deferred_records_dropped").Uint("count", dropped)
		l.pending = l.appendRecord(l.pending, l.sys.buf)
	}
	if body != nil {
		l.pending = l.appendRecord(l.pending, body)
	}
	if len(l.pending) == 0 {
		return nil
	}
	if err := l.writeLocked(l.pending, sync); err != nil {
		l.pending = l.pending[:mark]
		l.seq, l.prev = seq, prev
		return err
	}
	l.pending = l.pending[:0]
	l.dropped -= dropped
	return nil
}

// writeLocked writes buf in one write(2) at the end of the file.
func (l *Log) writeLocked(buf []byte, sync bool) error {
	n, err := l.f.Write(buf)
	if err == nil && sync {
		if err = l.f.Sync(); err != nil {
			err = fmt.Errorf("fsync: %w", err)
		}
	}
	if err != nil {
		// Cut any partial write away now; if that fails too, the next
		// write reopens the file first.
		l.dirty = l.f.Truncate(l.size) != nil
		if !l.failing {
			l.failing = true
			l.log.Error("audit write failed; statements are refused until it succeeds", "error", err)
		}
		return fmt.Errorf("audit: write %s: %w", l.cfg.Path, err)
	}
	if l.failing {
		l.failing = false
		l.log.Info("audit writes succeed again")
	}
	l.size += int64(n)
	return nil
}

// recoverLocked makes sure the file ends at the last good size after a
// failed write, reopening it if the old descriptor cannot be truncated.
func (l *Log) recoverLocked() error {
	if !l.dirty {
		return nil
	}
	if l.f.Truncate(l.size) == nil {
		l.dirty = false
		return nil
	}
	f, err := l.openFile(l.cfg.Path)
	if err != nil {
		return fmt.Errorf("audit: reopen %s: %w", l.cfg.Path, err)
	}
	if err := f.Truncate(l.size); err != nil {
		f.Close()
		return fmt.Errorf("audit: truncate %s after a failed write: %w", l.cfg.Path, err)
	}
	l.f.Close()
	l.f = f
	l.dirty = false
	return nil
}

// checkpointLocked writes the deferred records and a signed checkpoint
// (always with final, otherwise only if records were added since the last
// one), and fsyncs.
func (l *Log) checkpointLocked(final bool) error {
	if l.cfg.SigningKey == nil {
		return nil
	}
	if err := l.writeRecordsLocked(nil, false); err != nil {
		return err
	}
	if !final && l.sealed == l.seq {
		return nil
	}
	seq, prev := l.seq, l.prev
	line, timeAt := l.appendHeader(nil, l.cfg.Clock())
	timeStr := string(line[timeAt : len(line)-len(`","prev":"`)-len(l.prev)-len(`",`)])
	line, l.scratch = appendCheckpointBody(line, l.cfg.SigningKey, l.keyID, l.seq, string(l.prev[:]), timeStr, final, l.scratch)
	line = append(line, '}')
	line = l.seal(line, 0)
	if err := l.writeLocked(line, true); err != nil {
		l.seq, l.prev = seq, prev
		return err
	}
	l.sealed = l.seq
	return nil
}
