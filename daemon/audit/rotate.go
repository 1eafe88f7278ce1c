package audit

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// maybeRotateLocked rotates once the live file is past RotateBytes. A failed
// rotation is logged and retried after the file grows by another eighth of
// RotateBytes; records keep going to the live file meanwhile.
func (l *Log) maybeRotateLocked() {
	if l.cfg.RotateBytes <= 0 || l.size <= l.cfg.RotateBytes || l.size < l.rotateAt {
		return
	}
	if err := l.rotateLocked(); err != nil {
		l.rotateAt = l.size + l.cfg.RotateBytes/8 + 1
		l.log.Error("audit rotation", "error", err)
		return
	}
	l.rotateAt = 0
}

// rotateLocked seals the live file with a checkpoint, renames it to
// Path.<seq of its last record> and starts a new live file whose first
// record is a rotate record continuing the chain.
func (l *Log) rotateLocked() error {
	if err := l.checkpointLocked(false); err != nil {
		return err
	}
	if err := l.f.Sync(); err != nil {
		return fmt.Errorf("fsync before rotation: %w", err)
	}
	lastSeq := l.seq - 1
	path := l.cfg.Path
	rotated := rotatedName(path, lastSeq)
	if _, err := os.Lstat(rotated); !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("rotate: %s already exists or cannot be checked (%v)", rotated, err)
	}
	if err := os.Rename(path, rotated); err != nil {
		return fmt.Errorf("rotate: %w", err)
	}
	f, err := l.openFile(path)
	if err != nil {
		if rerr := os.Rename(rotated, path); rerr != nil {
			err = errors.Join(err, rerr)
		}
		return fmt.Errorf("rotate: open new file: %w", err)
	}
	old := l.f
	l.f, l.size, l.dirty = f, 0, false
	if err := old.Close(); err != nil {
		l.log.Warn("close rotated audit file", "error", err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		l.log.Warn("audit rotation", "error", err)
	}
	l.sys.Reset(TypeRotate)
	l.sys.Str(fieldPrevFile, filepath.Base(rotated)).Uint(fieldPrevLastSeq, lastSeq)
	if err := l.writeRecordsLocked(l.sys.buf, true); err != nil {
		// The chain is intact; the new file just starts with the next
		// record instead of a rotate record.
		l.log.Error("write rotate record", "error", err)
	}
	l.log.Info("audit file rotated", "rotated", rotated, "last_seq", lastSeq)
	return nil
}
