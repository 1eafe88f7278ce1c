package pgwire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// HeaderLen is the size of a message header: type byte and int32 length.
const HeaderLen = 5

const (
	defaultBufSize = 16 << 10
	// shrinkAbove is the buffer size above which the Reader drops its
	// buffer after a large message, so one huge message does not pin memory
	// for the rest of the session.
	shrinkAbove = 1 << 20
)

// ErrMessageTooLarge is returned for a message whose body exceeds the limit.
var ErrMessageTooLarge = errors.New("message too large")

// TooLargeError says which message exceeded which limit.
type TooLargeError struct {
	Type  byte
	Len   int
	Limit int
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("message %q of %d bytes exceeds the limit of %d bytes", e.Type, e.Len, e.Limit)
}

func (e *TooLargeError) Unwrap() error { return ErrMessageTooLarge }

// Msg is one protocol message. Body and Raw alias the Reader's buffer and
// are valid only until the next call on the Reader.
type Msg struct {
	Type byte
	Body []byte // the body, without the 5-byte header
	Raw  []byte // the whole frame: header and body
}

// Reader reads typed protocol messages (everything after startup).
type Reader struct {
	rd   io.Reader
	buf  []byte
	r, w int
	// pending is the body length of a header returned by NextHeader whose
	// body has not been consumed yet; -1 when none.
	pending int
	typ     byte
}

// NewReader returns a Reader with a small initial buffer.
func NewReader(rd io.Reader) *Reader { return NewReaderSize(rd, defaultBufSize) }

// NewReaderSize returns a Reader whose buffer starts at size bytes: a
// larger buffer reads bulk results with fewer system calls.
func NewReaderSize(rd io.Reader, size int) *Reader {
	return &Reader{rd: rd, buf: make([]byte, max(size, HeaderLen)), pending: -1}
}

// HasMessage reports whether a whole message is buffered, so the next Next
// or NextHeader+Body will not block.
func (r *Reader) HasMessage() bool {
	n := r.w - r.r
	if n < HeaderLen {
		return false
	}
	l := int(int32(binary.BigEndian.Uint32(r.buf[r.r+1:])))
	return l >= 4 && n >= 1+l
}

// Buffered reports how many bytes are buffered and not yet returned.
func (r *Reader) Buffered() int { return r.w - r.r }

// fill makes at least n bytes available at buf[r:]. The buffer grows as
// data arrives (doubling, up to n), never ahead of it, so a length field
// alone cannot make the Reader allocate.
func (r *Reader) fill(n int) error {
	for r.w-r.r < n {
		if r.w == len(r.buf) {
			if r.r > 0 {
				r.w = copy(r.buf, r.buf[r.r:r.w])
				r.r = 0
			}
			if r.w == len(r.buf) {
				nb := make([]byte, min(max(n, r.w-r.r+1), 2*len(r.buf)))
				r.w = copy(nb, r.buf[r.r:r.w])
				r.r = 0
				r.buf = nb
			}
		}
		m, err := r.rd.Read(r.buf[r.w:])
		r.w += m
		if err != nil {
			if r.w-r.r >= n {
				return nil
			}
			if errors.Is(err, io.EOF) && r.w-r.r > 0 {
				return io.ErrUnexpectedEOF
			}
			return err
		}
	}
	return nil
}

// NextHeader reads the next message header and returns the message type and
// body length. The caller must then call Body or Stream (or Discard).
func (r *Reader) NextHeader() (typ byte, bodyLen int, err error) {
	if r.pending >= 0 {
		return 0, 0, errors.New("pgwire: previous message body not consumed")
	}
	if err := r.fill(HeaderLen); err != nil {
		return 0, 0, err
	}
	typ = r.buf[r.r]
	l := int32(binary.BigEndian.Uint32(r.buf[r.r+1:]))
	if l < 4 {
		return 0, 0, fmt.Errorf("invalid length %d for message %q", l, typ)
	}
	r.pending = int(l) - 4
	r.typ = typ
	return typ, r.pending, nil
}

// Body buffers the body of the message whose header NextHeader returned and
// returns the whole message.
func (r *Reader) Body() (Msg, error) {
	n := r.pending
	if n < 0 {
		return Msg{}, errors.New("pgwire: no message header")
	}
	if err := r.fill(HeaderLen + n); err != nil {
		return Msg{}, err
	}
	r.pending = -1
	start := r.r
	r.r += HeaderLen + n
	raw := r.buf[start:r.r]
	return Msg{Type: r.typ, Body: raw[HeaderLen:], Raw: raw}, nil
}

// Stream copies the current message (header and body) to w without
// buffering the whole body, for messages too large to hold in memory.
func (r *Reader) Stream(w io.Writer) error {
	n := r.pending
	if n < 0 {
		return errors.New("pgwire: no message header")
	}
	r.pending = -1
	// The header is still in the buffer.
	hdr := r.buf[r.r : r.r+HeaderLen]
	if _, err := w.Write(hdr); err != nil {
		return err
	}
	r.r += HeaderLen
	for n > 0 {
		if r.r == r.w {
			r.r, r.w = 0, 0
			if err := r.fill(1); err != nil {
				return err
			}
		}
		chunk := min(n, r.w-r.r)
		if _, err := w.Write(r.buf[r.r : r.r+chunk]); err != nil {
			return err
		}
		r.r += chunk
		n -= chunk
	}
	r.maybeShrink()
	return nil
}

// Fill blocks until at least one unread byte is buffered, without
// consuming anything. It returns the read error (io.EOF when the peer
// closed). It must not be called concurrently with other methods.
func (r *Reader) Fill() error {
	return r.fill(1)
}

// Discard skips the body of the current message.
func (r *Reader) Discard() error {
	return r.Stream(io.Discard)
}

// maybeShrink drops an oversized buffer once it is empty.
func (r *Reader) maybeShrink() {
	if len(r.buf) > shrinkAbove && r.r == r.w {
		r.buf = make([]byte, defaultBufSize)
		r.r, r.w = 0, 0
	}
}

// Next reads one whole message. Bodies larger than limit (when limit > 0)
// return a *TooLargeError after the header; the body is left unread, so the
// caller should end the session.
func (r *Reader) Next(limit int) (Msg, error) {
	r.maybeShrink()
	typ, n, err := r.NextHeader()
	if err != nil {
		return Msg{}, err
	}
	if limit > 0 && n > limit {
		return Msg{Type: typ}, &TooLargeError{Type: typ, Len: n, Limit: limit}
	}
	return r.Body()
}
