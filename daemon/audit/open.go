package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
)

// open recovers the chain state from disk, opens the live file for
// appending and writes the rotate/recovery records the state calls for.
func (l *Log) open() error {
	path := l.cfg.Path
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create audit directory: %w", err)
	}
	t, _, err := readTail(path)
	if err != nil {
		return err
	}
	copy(l.prev[:], genesisPrev)
	var (
		last     []byte // line the chain continues from
		lastFile string // rotated file it is in, if not the live file
	)
	if t.last != nil {
		last = t.last
	} else {
		rotated, err := rotatedFiles(path)
		if err != nil {
			return err
		}
		if n := len(rotated); n > 0 {
			lastFile = rotated[n-1]
			rt, _, err := readTail(lastFile)
			if err != nil {
				return err
			}
			if rt.last == nil || rt.tornLen > 0 {
				return fmt.Errorf("audit: rotated file %s is empty or ends with a torn line; move it aside", lastFile)
			}
			last = rt.last
		}
	}
	var lastRec record
	if last != nil {
		lastRec, err = parseLine(last)
		if err != nil {
			return fmt.Errorf("audit: the last record of the chain is unreadable (%w); move the file aside to start a new chain", err)
		}
		sum := sha256.Sum256(last)
		hex.Encode(l.prev[:], sum[:])
		l.seq = lastRec.Seq + 1
		if lastRec.Type == TypeCheckpoint {
			l.sealed = l.seq
		}
	}

	f, err := l.openFile(path)
	if err != nil {
		return fmt.Errorf("open audit file: %w", err)
	}
	l.f = f
	l.size = t.goodEnd
	if t.tornLen > 0 {
		if err := f.Truncate(t.goodEnd); err != nil {
			f.Close()
			return fmt.Errorf("audit: cut torn last line: %w", err)
		}
		l.log.Warn("audit file ended with a torn line; cut it away", "bytes", t.tornLen, "offset", t.goodEnd)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		f.Close()
		return err
	}
	if err := l.writeOpenRecords(t, lastRec, last != nil, lastFile); err != nil {
		f.Close()
		return err
	}
	return nil
}

// writeOpenRecords writes the chain_start record (new chain), the rotate record (when continuing from a rotated
// file) and the recovery record (torn line, unclean shutdown).
func (l *Log) writeOpenRecords(t tail, lastRec record, continued bool, lastFile string) error {
	if !continued {
		l.sys.Reset(TypeChainStart)
		l.sys.Int(fieldVersion, formatVersion)
		if l.keyID != "" {
			l.sys.Str(fieldKeyID, l.keyID)
		}
		if err := l.writeRecordsLocked(l.sys.buf, true); err != nil {
			return err
		}
	}
	if lastFile != "" {
		l.sys.Reset(TypeRotate)
		l.sys.Str(fieldPrevFile, filepath.Base(lastFile)).Uint(fieldPrevLastSeq, lastRec.Seq)
		if err := l.writeRecordsLocked(l.sys.buf, true); err != nil {
			return err
		}
	}
	var reasons []string
	if t.tornLen > 0 {
		reasons = append(reasons, reasonTornLine)
	}
	if continued && l.cfg.SigningKey != nil && (lastRec.Type != TypeCheckpoint || !lastRec.Final) {
		reasons = append(reasons, reasonUnclean)
	}
	if len(reasons) == 0 {
		return nil
	}
	l.sys.Reset(TypeRecovery)
	l.sys.Strs(fieldReasons, reasons)
	if continued {
		l.sys.Str(fieldLastType, lastRec.Type)
	}
	if t.tornLen > 0 {
		l.sys.Int(fieldTornBytes, t.tornLen).Int(fieldTornOffset, t.goodEnd).Hex(fieldTornSHA256, t.tornSum[:])
	}
	l.log.Warn("audit chain reopened after an unclean end", "reasons", reasons, "next_seq", l.seq)
	return l.writeRecordsLocked(l.sys.buf, true)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open audit directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync audit directory: %w", err)
	}
	return nil
}
