package audit

import (
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// writeback hands the live file's new pages to the disk every
// Config.WritebackInterval (see Log.writeback). Without it the kernel writes
// a dirty page of the page cache back only once it is 30 s old
// (vm.dirty_expire_centisecs), so a power loss or kernel crash could take
// the last half minute of the chain with it, and the pages went out in one
// burst of hundreds of megabytes on a busy proxy.
type writeback struct {
	f      file  // the live file fd belongs to
	fd     int   // a dup of f's descriptor, owned by the run loop; -1 if none
	off    int64 // bytes of f already handed over
	failed bool  // the last attempt failed (logged once per streak)
	// syncRange is unix.SyncFileRange; tests record the calls.
	syncRange func(fd int, off, n int64, flags int) error
}

func newWriteback() *writeback {
	return &writeback{fd: -1, syncRange: unix.SyncFileRange}
}

// pageSize: only whole pages are handed over; the last one is still being
// appended to.
var pageSize = int64(os.Getpagesize())

// writeback starts write-out of the whole pages appended to the live file
// since the last call, with sync_file_range(SYNC_FILE_RANGE_WRITE): the
// kernel queues them for the disk and the call returns without waiting for
// the device. It takes the Log's lock only to read the file and its size,
// so statements do not wait for it. A file without a descriptor (tests'
// fakes) is skipped.
func (l *Log) writeback(w *writeback) error {
	l.mu.Lock()
	if l.f != w.f {
		// Opened, rotated or reopened after a failed write: the old file
		// was fsynced or is gone.
		w.close()
		w.f, w.off = l.f, 0
		if l.f != nil {
			w.fd = dupFD(l.f)
		}
	}
	end := l.size - l.size%pageSize
	l.mu.Unlock()
	if w.fd < 0 || end <= w.off {
		return nil
	}
	if err := w.syncRange(w.fd, w.off, end-w.off, unix.SYNC_FILE_RANGE_WRITE); err != nil {
		return fmt.Errorf("audit: start write-out of %s: %w", l.cfg.Path, err)
	}
	w.off = end
	return nil
}

// runWriteback is one tick of the run loop: writeback, logging the first
// failure of a streak and the recovery.
func (l *Log) runWriteback(w *writeback) {
	err := l.writeback(w)
	switch {
	case err != nil && !w.failed:
		w.failed = true
		l.log.Warn("audit write-out failed; the kernel writes the file back on its own schedule", "error", err)
	case err == nil && w.failed:
		w.failed = false
		l.log.Info("audit write-out works again")
	}
}

func (w *writeback) close() {
	if w.fd >= 0 {
		_ = unix.Close(w.fd)
		w.fd = -1
	}
}

// dupFD returns a duplicate of f's descriptor, or -1 when f has none.
func dupFD(f file) int {
	sc, ok := f.(syscall.Conn)
	if !ok {
		return -1
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return -1
	}
	fd := -1
	_ = rc.Control(func(s uintptr) {
		if d, err := unix.Dup(int(s)); err == nil {
			fd = d
		}
	})
	return fd
}
