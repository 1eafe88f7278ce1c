package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"
)

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
	dst = l.clock.append(dst, now)
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

// timeFormatter appends times as time.RFC3339Nano in UTC, formatting the
// part up to the second once per second.
type timeFormatter struct {
	sec    int64
	prefix []byte // "2006-01-02T15:04:05" of sec
}

func (f *timeFormatter) append(dst []byte, t time.Time) []byte {
	t = t.UTC()
	if sec := t.Unix(); sec != f.sec || f.prefix == nil {
		f.sec = sec
		f.prefix = t.AppendFormat(f.prefix[:0], "2006-01-02T15:04:05")
	}
	dst = append(dst, f.prefix...)
	if ns := t.Nanosecond(); ns != 0 {
		var frac [10]byte
		frac[0] = '.'
		for i := 9; i > 0; i-- {
			frac[i] = byte('0' + ns%10)
			ns /= 10
		}
		n := len(frac)
		for frac[n-1] == '0' {
			n--
		}
		dst = append(dst, frac[:n]...)
	}
	return append(dst, 'Z')
}
