package pgwire

import (
	"io"

	"github.com/jackc/pgx/v5/pgproto3"
)

// flushAbove is the buffered size above which Append callers should flush.
const flushAbove = 64 << 10

// Writer batches frames and writes them in one call on Flush.
type Writer struct {
	wr  io.Writer
	buf []byte
}

// NewWriter returns a Writer for wr.
func NewWriter(wr io.Writer) *Writer {
	return &Writer{wr: wr, buf: make([]byte, 0, defaultBufSize)}
}

// Append queues a raw frame (or any bytes).
func (w *Writer) Append(frame []byte) { w.buf = append(w.buf, frame...) }

// Send encodes and queues a message.
func (w *Writer) Send(msg interface{ Encode([]byte) ([]byte, error) }) error {
	b, err := msg.Encode(w.buf)
	if err != nil {
		return err
	}
	w.buf = b
	return nil
}

// RowRewriter rewrites a DataRow body into a whole DataRow message
// appended to dst (policy/mask's Plan).
type RowRewriter interface {
	AppendDataRow(dst, body []byte) ([]byte, error)
}

// AppendRow queues the DataRow that r makes of body, written straight into
// the buffer (no intermediate copy), and returns the queued message; it is
// valid until the next Flush.
func (w *Writer) AppendRow(r RowRewriter, body []byte) ([]byte, error) {
	start := len(w.buf)
	b, err := r.AppendDataRow(w.buf, body)
	if err != nil {
		return nil, err
	}
	w.buf = b
	return w.buf[start:], nil
}

// Full reports whether the buffer has grown enough to be flushed now.
func (w *Writer) Full() bool { return len(w.buf) >= flushAbove }

// Len is the number of bytes queued.
func (w *Writer) Len() int { return len(w.buf) }

// Flush writes everything queued.
func (w *Writer) Flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	_, err := w.wr.Write(w.buf)
	if cap(w.buf) > shrinkAbove {
		w.buf = make([]byte, 0, defaultBufSize)
	} else {
		w.buf = w.buf[:0]
	}
	return err
}

// Write implements io.Writer by flushing what is queued and writing p
// directly; it is used to stream large messages.
func (w *Writer) Write(p []byte) (int, error) {
	if err := w.Flush(); err != nil {
		return 0, err
	}
	return w.wr.Write(p)
}

var _ pgproto3.BackendMessage = (*pgproto3.ErrorResponse)(nil)
