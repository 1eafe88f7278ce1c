package audit

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// maxLine bounds the last line Open is willing to read back.
const maxLine = 64 << 20

// tail is the end of an existing audit file.
type tail struct {
	size    int64  // file size
	goodEnd int64  // offset just past the last complete line's newline
	last    []byte // the last complete line, without newline; nil if none
	tornLen int64  // bytes after goodEnd (a torn write)
	tornSum [sha256.Size]byte
}

// readTail reads the last complete line of path and measures any torn
// bytes after it. A missing file gives the zero tail and ok false.
func readTail(path string) (t tail, ok bool, err error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return t, false, nil
	}
	if err != nil {
		return t, false, fmt.Errorf("open audit file: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return t, false, fmt.Errorf("stat audit file: %w", err)
	}
	if !st.Mode().IsRegular() {
		return t, false, fmt.Errorf("audit file %s is not a regular file", path)
	}
	t.size = st.Size()
	if t.size == 0 {
		return t, true, nil
	}
	var b [1]byte
	if _, err := f.ReadAt(b[:], t.size-1); err != nil {
		return t, false, fmt.Errorf("read audit file: %w", err)
	}
	t.goodEnd = t.size
	if b[0] != '\n' {
		nl, err := lastNewline(f, t.size)
		if err != nil {
			return t, false, err
		}
		t.goodEnd = nl + 1
		t.tornLen = t.size - t.goodEnd
		h := sha256.New()
		if _, err := io.Copy(h, io.NewSectionReader(f, t.goodEnd, t.tornLen)); err != nil {
			return t, false, fmt.Errorf("read torn line: %w", err)
		}
		h.Sum(t.tornSum[:0])
	}
	if t.goodEnd == 0 {
		return t, true, nil
	}
	start, err := lastNewline(f, t.goodEnd-1)
	if err != nil {
		return t, false, err
	}
	start++
	n := t.goodEnd - 1 - start
	if n > maxLine {
		return t, false, fmt.Errorf("last audit record is %d bytes, over %d", n, maxLine)
	}
	t.last = make([]byte, n)
	if _, err := f.ReadAt(t.last, start); err != nil {
		return t, false, fmt.Errorf("read last audit record: %w", err)
	}
	return t, true, nil
}

// lastNewline returns the offset of the last '\n' before offset before, or
// -1 if there is none.
func lastNewline(f *os.File, before int64) (int64, error) {
	var buf [32 << 10]byte
	end := before
	for end > 0 && before-end <= maxLine {
		start := max(end-int64(len(buf)), 0)
		chunk := buf[:end-start]
		if _, err := f.ReadAt(chunk, start); err != nil {
			return 0, fmt.Errorf("read audit file: %w", err)
		}
		if i := bytes.LastIndexByte(chunk, '\n'); i >= 0 {
			return start + int64(i), nil
		}
		end = start
	}
	if end > 0 {
		return 0, fmt.Errorf("audit line longer than %d bytes", maxLine)
	}
	return -1, nil
}
