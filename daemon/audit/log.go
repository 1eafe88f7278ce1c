package audit

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
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
	r, err := newRawFile(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	return r, nil
}

// Log is an open audit chain. All methods are safe for concurrent use; the
// records of all sessions form one totally ordered chain.
type Log struct {
	cfg      Config
	log      *slog.Logger
	keyID    string
	openFile func(path string) (file, error)
	// maxPending is maxPending; tests lower it.
	maxPending int

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
	clock    timeFormatter
	failing  bool // in a failure streak (for logging)

	kick      chan struct{}
	armed     atomic.Bool // run's flush timer is set
	done      chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once
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
		cfg:        cfg,
		log:        cfg.Logger.With("component", "audit", "path", cfg.Path),
		openFile:   openAppend,
		maxPending: maxPending,
		kick:       make(chan struct{}, 1),
		done:       make(chan struct{}),
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
// and fsync'd if Config.Fsync. On error the chain is unchanged and any bytes
// of a partial write are cut away (at once, or before the next write if that
// truncation fails too): the caller must not act on the audited event (the
// proxy refuses the statement). Later calls retry; the chain resumes where
// the last good write ended.
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
	case len(l.pending) >= l.maxPending:
		l.dropped++
		l.mu.Unlock()
		return
	}
	l.pending = l.appendRecord(l.pending, body.buf)
	l.mu.Unlock()
	// An armed flush timer writes this record (run disarms before it
	// takes the lock to write): only wake run when none is.
	if !l.armed.Load() {
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
