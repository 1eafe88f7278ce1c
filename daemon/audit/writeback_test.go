package audit

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// syncCall is one recorded sync_file_range call.
type syncCall struct {
	fd       int
	off, n   int64
	flags    int
	fileSize int64
}

// recordSyncs makes w record its calls instead of making them.
func recordSyncs(w *writeback, calls *[]syncCall) {
	w.syncRange = func(fd int, off, n int64, flags int) error {
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			return err
		}
		*calls = append(*calls, syncCall{fd: fd, off: off, n: n, flags: flags, fileSize: st.Size})
		return nil
	}
}

// writeRecords writes n statement records to l.
func writeRecords(tb testing.TB, l *Log, n int) {
	tb.Helper()
	var b Body
	for i := range n {
		statementBody(&b, 1, i)
		if err := l.Write(b); err != nil {
			tb.Fatal(err)
		}
	}
}

// TestWritebackRanges checks what the write-out hands to the kernel: every
// whole page appended since the last call, once, in order; nothing for the
// page still being appended to; the new file from its start after a
// rotation.
func TestWritebackRanges(t *testing.T) {
	path := tempPath(t)
	l := mustOpen(t, Config{Path: path, RotateBytes: 64 << 10, WritebackInterval: time.Hour})
	w := newWriteback()
	t.Cleanup(w.close)
	var calls []syncCall
	recordSyncs(w, &calls)

	// Less than a page: nothing to hand over yet.
	writeRecords(t, l, 1)
	if err := l.writeback(w); err != nil || len(calls) != 0 {
		t.Fatalf("after one record: calls %+v, err %v; want none", calls, err)
	}

	var covered int64 // of the current file
	check := func(what string) {
		t.Helper()
		if err := l.writeback(w); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		l.mu.Lock()
		size := l.size
		l.mu.Unlock()
		want := size - size%pageSize
		if want == covered {
			if len(calls) != 0 {
				t.Fatalf("%s: calls %+v with no new whole page", what, calls)
			}
			return
		}
		if len(calls) != 1 {
			t.Fatalf("%s: %d calls, want 1: %+v", what, len(calls), calls)
		}
		c := calls[0]
		if c.off != covered || c.off+c.n != want || c.flags != unix.SYNC_FILE_RANGE_WRITE || c.fileSize != size {
			t.Fatalf("%s: call %+v, want [%d, %d) with SYNC_FILE_RANGE_WRITE on the %d-byte live file", what, c, covered, want, size)
		}
		covered, calls = want, calls[:0]
	}
	writeRecords(t, l, 20) // ~13 KiB
	check("after 13 KiB")
	check("again with nothing new")
	writeRecords(t, l, 3)
	check("after three more records")

	// Past RotateBytes: the live file is new, and handed over from 0.
	oldFD := w.fd
	writeRecords(t, l, 100)
	if files := chainFiles(t, path); len(files) < 2 {
		t.Fatalf("no rotation happened: %v", files)
	}
	covered = 0
	check("after rotation")
	if w.fd == oldFD {
		t.Error("the write-out kept the rotated file's descriptor")
	}
}

// TestWritebackWithoutDescriptor: a file with no descriptor (a test fake)
// is skipped, not an error.
func TestWritebackWithoutDescriptor(t *testing.T) {
	l := mustOpen(t, Config{Path: tempPath(t), WritebackInterval: time.Hour})
	writeRecords(t, l, 10)
	l.mu.Lock()
	l.f = struct{ file }{l.f} // hides SyscallConn
	l.mu.Unlock()
	w := newWriteback()
	var calls []syncCall
	recordSyncs(w, &calls)
	if err := l.writeback(w); err != nil || len(calls) != 0 || w.fd != -1 {
		t.Fatalf("calls %+v, fd %d, err %v; want nothing", calls, w.fd, err)
	}
}

// TestWritebackFailureReported: a failing write-out is an error naming the
// file, and the range is handed over again next time.
func TestWritebackFailureReported(t *testing.T) {
	path := tempPath(t)
	l := mustOpen(t, Config{Path: path, WritebackInterval: time.Hour})
	writeRecords(t, l, 10)
	w := newWriteback()
	t.Cleanup(w.close)
	fail := errors.New("EIO")
	var offs []int64
	w.syncRange = func(fd int, off, n int64, flags int) error {
		offs = append(offs, off)
		return fail
	}
	if err := l.writeback(w); !errors.Is(err, fail) || !strings.Contains(err.Error(), path) {
		t.Fatalf("err %v, want EIO naming %s", err, path)
	}
	w.syncRange = unix.SyncFileRange
	if err := l.writeback(w); err != nil || w.off == 0 {
		t.Fatalf("retry with the real call: err %v, handed over %d bytes", err, w.off)
	}
	if len(offs) != 1 || offs[0] != 0 {
		t.Fatalf("failed call offsets %v", offs)
	}
}

// TestWritebackReachesDisk runs the real thing: with a short interval, the
// audit file's whole pages stop being dirty in the page cache within
// seconds, where the kernel alone would leave them for 30 s
// (vm.dirty_expire_centisecs). cachestat(2) reports the file's dirty pages.
// It needs a disk-backed directory: /var/tmp.
func TestWritebackReachesDisk(t *testing.T) {
	dir, err := os.MkdirTemp("/var/tmp", "interlock-audit-writeback-")
	if err != nil {
		t.Fatalf("this test needs a disk-backed /var/tmp: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	var fs unix.Statfs_t
	if err := unix.Statfs(dir, &fs); err != nil {
		t.Fatal(err)
	}
	if fs.Type == unix.TMPFS_MAGIC {
		t.Fatalf("/var/tmp is tmpfs, whose pages are never written back; this test needs it on a disk filesystem")
	}
	path := filepath.Join(dir, "audit.jsonl")
	l := mustOpen(t, Config{Path: path, WritebackInterval: 20 * time.Millisecond})
	writeRecords(t, l, 200) // ~130 KiB

	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	l.mu.Lock()
	whole := uint64(l.size - l.size%pageSize)
	l.mu.Unlock()
	var st unix.Cachestat_t
	deadline := time.Now().Add(5 * time.Second)
	for {
		if err := unix.Cachestat(uint(f.Fd()), &unix.CachestatRange{Off: 0, Len: whole}, &st, 0); err != nil {
			t.Fatalf("cachestat (Linux 6.5+): %v", err)
		}
		if st.Dirty == 0 && st.Writeback == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 5 s, %d of the file's %d whole pages are still dirty and %d under writeback", st.Dirty, whole/uint64(pageSize), st.Writeback)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
