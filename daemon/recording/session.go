package recording

import (
	"log/slog"
	"os"
	"strconv"
	"sync"
	"time"
)

// SessionMeta describes a recorded session; it is the file's first line.
type SessionMeta struct {
	User     string
	Endpoint string
	Database string
	Start    time.Time
}

const (
	// formatVersion is the "version" of the session line.
	formatVersion = 1
	// flushAt writes pending lines once this many bytes are buffered.
	flushAt = 64 << 10
	// keepBuf: a buffer grown past this is dropped after its write, so
	// that one huge row does not pin its size for the whole session.
	keepBuf = 1 << 20
	// endReserve is kept free for the end line.
	endReserve = 1024
	// maxReason bounds the end line's reason.
	maxReason = 256
)

// Session is one session's recording. The proxy's two relay goroutines
// call it concurrently; every method is safe for that, returns quickly
// (a write(2) of at most ~64 KiB when the buffer is full, usually none)
// and never fails the caller: problems are logged and counted in the
// Recorder's Stats. A nil *Session does nothing.
//
// n is the session's statement number, as in the audit records' "stmt".
type Session struct {
	rec   *Recorder
	id    string
	log   *slog.Logger
	clock func() time.Time

	maxRows, maxValue, maxStmt  int
	rowLimit, lineLimit, maxLen int64

	mu     sync.Mutex
	buf    []byte // lines not yet written
	spare  []byte // the other buffer, while not being written
	size   int64  // bytes written and pending
	closed bool
	failed bool  // a write failed: the rest is dropped
	err    error // the failure
	trunc  bool  // rows reached rowLimit
	full   bool  // lines reached lineLimit

	// the result being recorded
	cur         uint64
	curRecorded uint64
	curDropped  uint64
	// formats of the last RowDescription, for statement desc
	desc        uint64
	descOK      bool
	descFormats []int16

	// totals, and what has been added to the Recorder's counters
	rows, rowsDropped, linesDropped    uint64
	rRows, rRowsDropped, rLinesDropped uint64

	wmu     sync.Mutex // serialises writes, in buffer order; guards f
	f       *os.File   // nil once abandoned or closed
	written int64      // file size after the last good write
}

func newSession(r *Recorder, id string, f *os.File) *Session {
	c := &r.cfg
	return &Session{
		rec: r, id: id, f: f, clock: c.Clock,
		log:     r.log.With("session_id", id),
		maxRows: c.MaxRowsPerResult, maxValue: c.MaxValueBytes, maxStmt: c.MaxStatementBytes,
		rowLimit: c.MaxBytes - c.MaxBytes/8, lineLimit: c.MaxBytes - endReserve, maxLen: c.MaxBytes,
		buf: make([]byte, 0, 4096),
	}
}

// header appends the session line.
func (s *Session) header(m SessionMeta) {
	mark := len(s.buf)
	b := append(s.buf, `{"t":"session","version":`...)
	b = strconv.AppendInt(b, formatVersion, 10)
	b = append(b, `,"session":`...)
	b = appendString(b, s.id)
	b = append(b, `,"user":`...)
	b = appendString(b, m.User)
	b = append(b, `,"endpoint":`...)
	b = appendString(b, m.Endpoint)
	b = append(b, `,"database":`...)
	b = appendString(b, m.Database)
	b = append(b, `,"start":`...)
	b = appendTime(b, m.Start)
	b = append(b, `,"max_bytes":`...)
	b = strconv.AppendInt(b, s.maxLen, 10)
	b = append(b, `,"max_rows_per_result":`...)
	b = strconv.AppendInt(b, int64(s.maxRows), 10)
	b = append(b, `,"max_value_bytes":`...)
	b = strconv.AppendInt(b, int64(s.maxValue), 10)
	s.buf = append(b, "}\n"...)
	s.commitLine(mark, s.lineLimit)
}

// Statement records the text of statement n as it is forwarded (cut to
// MaxStatementBytes).
func (s *Session) Statement(n uint64, text string) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.lineOK() {
		return
	}
	mark := len(s.buf)
	b := s.linePrefix("statement", n, true)
	cut := bytesString(cutUTF8(stringBytes(text), s.maxStmt))
	b = append(b, `,"text":`...)
	b = appendString(b, cut)
	if len(cut) < len(text) {
		b = append(b, `,"text_truncated":true,"text_len":`...)
		b = strconv.AppendInt(b, int64(len(text)), 10)
	}
	s.buf = append(b, "}\n"...)
	s.endLine(mark)
}

// SkipRow counts a row of statement n that the proxy did not hold (it
// streamed a message too large to buffer), so it cannot be recorded.
func (s *Session) SkipRow(n uint64) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rowOK(n) {
		s.curDropped++
		s.rowsDropped++
	}
}

// CopyData records one CopyData message of a COPY ... TO STDOUT of
// statement n, after masking. It counts as a row.
func (s *Session) CopyData(n uint64, data []byte) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.rowOK(n) {
		return
	}
	mark := len(s.buf)
	b := s.linePrefix("copy", n, false)
	b = append(b, `,"v":`...)
	b = appendValue(b, data, false, 0, s.maxValue)
	s.buf = append(b, "}\n"...)
	s.endRow(mark)
}

// Result records how statement n ended: its command tag, or the SQLSTATE
// and message of its error as the client received them.
func (s *Session) Result(n uint64, tag, errCode, errMsg string) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var recorded, dropped uint64
	if n == s.cur {
		recorded, dropped = s.curRecorded, s.curDropped
		s.cur, s.curRecorded, s.curDropped = 0, 0, 0
	}
	if !s.lineOK() {
		return
	}
	mark := len(s.buf)
	b := s.linePrefix("result", n, true)
	if tag != "" {
		b = append(b, `,"tag":`...)
		b = appendString(b, tag)
	}
	if errCode != "" || errMsg != "" {
		b = append(b, `,"error_code":`...)
		b = appendString(b, errCode)
		b = append(b, `,"error":`...)
		b = appendString(b, bytesString(cutUTF8(stringBytes(errMsg), s.maxStmt)))
	}
	b = append(b, `,"rows_recorded":`...)
	b = strconv.AppendUint(b, recorded, 10)
	if dropped > 0 {
		b = append(b, `,"rows_dropped":`...)
		b = strconv.AppendUint(b, dropped, 10)
	}
	s.buf = append(b, "}\n"...)
	s.endLine(mark)
}

// Notice records a notice the client received (from the server, or the
// proxy's own, such as an approval notice).
func (s *Session) Notice(msg string) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.lineOK() {
		return
	}
	mark := len(s.buf)
	b := append(s.buf, `{"t":"notice","time":`...)
	b = appendTime(b, s.clock())
	b = append(b, `,"message":`...)
	b = appendString(b, bytesString(cutUTF8(stringBytes(msg), s.maxStmt)))
	s.buf = append(b, "}\n"...)
	s.endLine(mark)
}

// Close writes the end line, flushes and closes the file. Later calls,
// and every call after it, do nothing.
func (s *Session) Close(reason string) {
	if s == nil {
		return
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	if !s.failed {
		mark := len(s.buf)
		b := append(s.buf, `{"t":"end","time":`...)
		b = appendTime(b, s.clock())
		b = append(b, `,"reason":`...)
		b = appendString(b, bytesString(cutUTF8(stringBytes(reason), maxReason)))
		b = append(b, `,"rows_recorded":`...)
		b = strconv.AppendUint(b, s.rows, 10)
		b = append(b, `,"rows_dropped":`...)
		b = strconv.AppendUint(b, s.rowsDropped, 10)
		b = append(b, `,"lines_dropped":`...)
		b = strconv.AppendUint(b, s.linesDropped, 10)
		if s.trunc {
			b = append(b, `,"truncated":true`...)
		}
		s.buf = append(b, "}\n"...)
		s.commitLine(mark, s.maxLen)
		s.flushLocked()
	}
	s.report()
	s.mu.Unlock()

	s.wmu.Lock()
	if s.f != nil {
		if err := s.f.Close(); err != nil {
			s.rec.stats.writeErrors.Add(1)
			s.log.Error("close recording", "err", err)
		}
		s.f = nil
	}
	s.wmu.Unlock()
	s.rec.forget(s)
}

// linePrefix starts a line of type t for statement n (mu held).
func (s *Session) linePrefix(t string, n uint64, withTime bool) []byte {
	b := append(s.buf, `{"t":"`...)
	b = append(b, t...)
	b = append(b, `","stmt":`...)
	b = strconv.AppendUint(b, n, 10)
	if withTime {
		b = append(b, `,"time":`...)
		b = appendTime(b, s.clock())
	}
	return b
}

// lineOK reports whether a non-row line may be added (mu held).
func (s *Session) lineOK() bool {
	if s.closed || s.failed || s.full {
		s.linesDropped++
		return false
	}
	return true
}

// endLine keeps the line started at mark if it fits (mu held).
func (s *Session) endLine(mark int) {
	if s.commitLine(mark, s.lineLimit) {
		s.flushIfFull()
		return
	}
	s.linesDropped++
	if !s.full {
		s.full = true
		s.log.Warn("recording reached its size limit; later statements and results are not recorded", "max_bytes", s.maxLen)
	}
}

// commitLine keeps the line started at mark if the file stays within
// limit, else removes it (mu held).
func (s *Session) commitLine(mark int, limit int64) bool {
	n := int64(len(s.buf) - mark)
	if s.size+n > limit {
		s.buf = s.buf[:mark]
		return false
	}
	s.size += n
	return true
}

// rowOK counts a row of statement n and reports whether to record it
// (mu held).
func (s *Session) rowOK(n uint64) bool {
	if n != s.cur {
		s.cur, s.curRecorded, s.curDropped = n, 0, 0
	}
	if s.closed || s.failed || s.trunc || (s.maxRows >= 0 && s.curRecorded >= uint64(s.maxRows)) {
		s.curDropped++
		s.rowsDropped++
		return false
	}
	return true
}

// endRow keeps the row started at mark if it fits under rowLimit; the
// first that does not ends row recording with a truncated line (mu held).
func (s *Session) endRow(mark int) {
	if s.commitLine(mark, s.rowLimit) {
		s.curRecorded++
		s.rows++
		s.flushIfFull()
		return
	}
	s.rowTooBig()
}

// rowTooBig drops a row that does not fit under rowLimit and ends row
// recording with a truncated line (mu held).
func (s *Session) rowTooBig() {
	s.curDropped++
	s.rowsDropped++
	s.trunc = true
	s.rec.stats.truncated.Add(1)
	if !s.lineOK() {
		return
	}
	mark := len(s.buf)
	b := s.linePrefix("truncated", s.cur, true)
	b = append(b, `,"reason":"max_bytes"`...)
	s.buf = append(b, "}\n"...)
	s.endLine(mark)
}

// dropRow abandons the row started at mark (malformed input; mu held).
func (s *Session) dropRow(mark int) {
	s.buf = s.buf[:mark]
	s.curDropped++
	s.rowsDropped++
}

func (s *Session) flushIfFull() {
	if len(s.buf) >= flushAt {
		s.flushLocked()
	}
}

// flush writes pending lines (the Recorder's periodic flush).
func (s *Session) flush() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.flushLocked()
}

// flushLocked writes the pending lines. It is called with mu held and
// returns with mu held, but releases it during the write, so that the
// other relay goroutine can keep appending to the other buffer.
func (s *Session) flushLocked() {
	if len(s.buf) > 0 && !s.failed {
		b := s.buf
		s.buf, s.spare = s.spare, nil
		if s.buf == nil {
			s.buf = make([]byte, 0, 4096)
		}
		s.wmu.Lock() // before releasing mu: writes keep buffer order
		s.mu.Unlock()
		err := s.write(b)
		s.wmu.Unlock()
		s.mu.Lock()
		if err != nil && !s.failed {
			s.failed, s.err = true, err
			s.buf = s.buf[:0]
			s.rec.stats.writeErrors.Add(1)
			s.log.Error("recording write failed; the rest of this session is not recorded", "err", err)
		}
		if cap(b) <= keepBuf && s.spare == nil {
			s.spare = b[:0]
		}
	}
	if s.failed {
		s.buf = s.buf[:0]
	}
	s.report()
}

// write writes b to the file (wmu held). On failure the file is cut back
// to its last complete line and closed: the recording is abandoned.
func (s *Session) write(b []byte) error {
	if s.f == nil {
		return os.ErrClosed
	}
	n, err := s.f.Write(b)
	if err != nil {
		if n > 0 {
			_ = s.f.Truncate(s.written)
		}
		_ = s.f.Close()
		s.f = nil
		return err
	}
	s.written += int64(n)
	s.rec.stats.bytes.Add(uint64(n))
	return nil
}

// report adds the counts since the last report to the Recorder's (mu held).
func (s *Session) report() {
	c := &s.rec.stats
	if d := s.rows - s.rRows; d > 0 {
		c.rowsRecorded.Add(d)
	}
	if d := s.rowsDropped - s.rRowsDropped; d > 0 {
		c.rowsDropped.Add(d)
	}
	if d := s.linesDropped - s.rLinesDropped; d > 0 {
		c.linesDropped.Add(d)
	}
	s.rRows, s.rRowsDropped, s.rLinesDropped = s.rows, s.rowsDropped, s.linesDropped
}
