package pgwire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgproto3"
)

func frame(typ byte, body string) []byte {
	b := []byte{typ, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(b[1:], uint32(len(body)+4))
	return append(b, body...)
}

// oneByte reads one byte at a time, to exercise buffering edges.
type oneByte struct{ r io.Reader }

func (o oneByte) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	return o.r.Read(p[:1])
}

func TestReaderNext(t *testing.T) {
	big := strings.Repeat("x", 100_000)
	stream := bytes.Join([][]byte{frame('Q', "SELECT 1\x00"), frame('S', ""), frame('d', big), frame('X', "")}, nil)
	for _, tc := range []struct {
		name string
		r    io.Reader
	}{
		{"whole", bytes.NewReader(stream)},
		{"bytewise", oneByte{bytes.NewReader(stream)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := NewReader(tc.r)
			want := []struct {
				typ  byte
				body string
			}{{'Q', "SELECT 1\x00"}, {'S', ""}, {'d', big}, {'X', ""}}
			for _, w := range want {
				m, err := r.Next(0)
				if err != nil {
					t.Fatal(err)
				}
				if m.Type != w.typ || string(m.Body) != w.body || len(m.Raw) != len(w.body)+5 {
					t.Fatalf("got %q (%d bytes), want %q (%d bytes)", m.Type, len(m.Body), w.typ, len(w.body))
				}
			}
			if _, err := r.Next(0); !errors.Is(err, io.EOF) {
				t.Fatalf("at end got %v, want EOF", err)
			}
		})
	}
}

func TestReaderLimitsAndErrors(t *testing.T) {
	r := NewReader(bytes.NewReader(frame('Q', strings.Repeat("y", 2000))))
	_, err := r.Next(1000)
	var tl *TooLargeError
	if !errors.As(err, &tl) || tl.Len != 2000 || tl.Limit != 1000 || !errors.Is(err, ErrMessageTooLarge) {
		t.Fatalf("got %v, want TooLargeError 2000 > 1000", err)
	}
	r = NewReader(bytes.NewReader([]byte{'Q', 0, 0, 0, 3}))
	if _, err := r.Next(0); err == nil || !strings.Contains(err.Error(), "invalid length") {
		t.Fatalf("length 3: got %v", err)
	}
	r = NewReader(bytes.NewReader(frame('Q', "abc")[:6]))
	if _, err := r.Next(0); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("truncated: got %v, want ErrUnexpectedEOF", err)
	}
}

func TestReaderStream(t *testing.T) {
	big := strings.Repeat("z", 3<<20)
	in := append(frame('d', big), frame('c', "")...)
	r := NewReader(oneByteChunks{bytes.NewReader(in), 4096})
	typ, n, err := r.NextHeader()
	if err != nil || typ != 'd' || n != len(big) {
		t.Fatalf("header %q %d %v", typ, n, err)
	}
	var out bytes.Buffer
	if err := r.Stream(&out); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), frame('d', big)) {
		t.Fatal("streamed bytes differ from the frame")
	}
	if len(r.buf) > shrinkAbove {
		t.Fatalf("buffer grew to %d while streaming", len(r.buf))
	}
	m, err := r.Next(0)
	if err != nil || m.Type != 'c' {
		t.Fatalf("after stream: %q %v", m.Type, err)
	}
}

type oneByteChunks struct {
	r io.Reader
	n int
}

func (o oneByteChunks) Read(p []byte) (int, error) {
	if len(p) > o.n {
		p = p[:o.n]
	}
	return o.r.Read(p)
}

func TestWriter(t *testing.T) {
	var out bytes.Buffer
	w := NewWriter(&out)
	w.Append(frame('Z', "I"))
	if err := w.Send(Error(CodeInsufficientPrivilege, "no")); err != nil {
		t.Fatal(err)
	}
	if out.Len() != 0 {
		t.Fatal("Writer wrote before Flush")
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	fe := pgproto3.NewFrontend(&out, io.Discard)
	m, _ := fe.Receive()
	if rfq, ok := m.(*pgproto3.ReadyForQuery); !ok || rfq.TxStatus != 'I' {
		t.Fatalf("first message %#v", m)
	}
	m, _ = fe.Receive()
	if e, ok := m.(*pgproto3.ErrorResponse); !ok || e.Code != "42501" || e.Severity != "ERROR" {
		t.Fatalf("second message %#v", m)
	}
}

func startupBytes(version uint32, kv ...string) []byte {
	body := binary.BigEndian.AppendUint32(nil, version)
	for _, s := range kv {
		body = append(append(body, s...), 0)
	}
	body = append(body, 0)
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(body)+4)), body...)
}

func TestReadStartup(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		kind StartupKind
		err  string
	}{
		{"startup", startupBytes(3<<16, "user", "u", "database", "d"), KindStartup, ""},
		{"ssl", []byte{0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f}, KindSSLRequest, ""},
		{"gssenc", []byte{0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x30}, KindGSSENCRequest, ""},
		{"cancel", []byte{0, 0, 0, 16, 0x04, 0xd2, 0x16, 0x2e, 0, 0, 0, 7, 1, 2, 3, 4}, KindCancel, ""},
		{"version 2", startupBytes(2 << 16), 0, "unsupported frontend protocol 2.0"},
		{"minor 3.2", startupBytes(3<<16|2, "user", "u", "_pq_.x", "1"), KindStartup, "protocol 3.2 requested"},
		{"short length", []byte{0, 0, 0, 4, 0, 3, 0, 0}, 0, "invalid length 4"},
		{"too long", []byte{0, 1, 0, 0}, 0, "invalid length 65536"},
		{"truncated", []byte{0, 0, 0, 20, 0, 3, 0, 0, 'u'}, 0, "unexpected EOF"},
		{"unterminated", append([]byte{0, 0, 0, 12}, 0, 3, 0, 0, 'a', 'b', 'c', 'd'), 0, "unterminated"},
		{"trailing", append(startupBytes(3<<16, "user", "u")[:0:0], []byte{0, 0, 0, 14, 0, 3, 0, 0, 'u', 0, 'v', 0, 0, 'x'}...), 0, "trailing bytes"},
		{"ssl wrong length", []byte{0, 0, 0, 9, 0x04, 0xd2, 0x16, 0x2f, 0}, 0, "invalid length 9 for request"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := ReadStartup(bytes.NewReader(tc.in))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %v, want error containing %q", err, tc.err)
				}
				var merr *MinorVersionError
				if errors.As(err, &merr) {
					if merr.Startup.Params["user"] != "u" || len(merr.Unknown) != 1 || merr.Startup.Params["_pq_.x"] != "" {
						t.Fatalf("minor version error %+v", merr)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.Kind != tc.kind {
				t.Fatalf("kind %d, want %d", s.Kind, tc.kind)
			}
			if s.Kind == KindStartup && (s.Params["user"] != "u" || s.Params["database"] != "d") {
				t.Fatalf("params %v", s.Params)
			}
			if s.Kind == KindCancel && (s.ProcessID != 7 || !bytes.Equal(s.SecretKey, []byte{1, 2, 3, 4})) {
				t.Fatalf("cancel %d %v", s.ProcessID, s.SecretKey)
			}
		})
	}
}

// FuzzReadStartup: any bytes give a Startup or an error, never a panic, and
// a decoded StartupMessage re-encodes to the same parameters.
func FuzzReadStartup(f *testing.F) {
	f.Add(startupBytes(3<<16, "user", "u", "database", "d"))
	f.Add([]byte{0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f})
	f.Add([]byte{0, 0, 0, 16, 0x04, 0xd2, 0x16, 0x2e, 0, 0, 0, 7, 1, 2, 3, 4})
	f.Add(startupBytes(3<<16|2, "_pq_.a", "b"))
	f.Add([]byte{0, 0, 0, 9, 0, 3, 0, 0, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		s, err := ReadStartup(bytes.NewReader(in))
		if err != nil {
			return
		}
		if s.Kind == KindStartup {
			b, err := (&pgproto3.StartupMessage{ProtocolVersion: 3 << 16, Parameters: s.Params}).Encode(nil)
			if err != nil {
				return // pgproto3 refuses what it cannot encode (e.g. NUL in a key)
			}
			s2, err := ReadStartup(bytes.NewReader(b))
			if err != nil {
				t.Fatalf("re-encoded startup does not decode: %v", err)
			}
			if len(s2.Params) != len(s.Params) {
				t.Fatalf("params %v became %v", s.Params, s2.Params)
			}
		}
	})
}

// FuzzReader: arbitrary client bytes are framed or rejected, never panic,
// never return a body longer than the limit.
func FuzzReader(f *testing.F) {
	f.Add(append(frame('Q', "SELECT 1\x00"), frame('S', "")...), 100)
	f.Add([]byte{'Q', 0, 0, 0, 3}, 10)
	f.Add([]byte{'d', 0x7f, 0xff, 0xff, 0xff}, 10)
	f.Fuzz(func(t *testing.T, in []byte, limit int) {
		if limit < 0 {
			limit = -limit
		}
		r := NewReader(bytes.NewReader(in))
		for {
			m, err := r.Next(limit % 4096)
			if err != nil {
				return
			}
			if limit%4096 > 0 && len(m.Body) > limit%4096 {
				t.Fatalf("body %d exceeds limit %d", len(m.Body), limit%4096)
			}
			if len(m.Raw) != len(m.Body)+HeaderLen || m.Raw[0] != m.Type {
				t.Fatal("Raw does not frame Body")
			}
		}
	})
}

func TestHasMessage(t *testing.T) {
	in := append(frame('Q', "SELECT 1\x00"), frame('S', "")[:3]...)
	r := NewReaderSize(bytes.NewReader(in), 64)
	if r.HasMessage() {
		t.Fatal("HasMessage before anything was read")
	}
	if _, err := r.Next(0); err != nil {
		t.Fatal(err)
	}
	if r.HasMessage() {
		t.Fatal("HasMessage with only part of a header buffered")
	}
	r = NewReader(bytes.NewReader(append(frame('Q', "a\x00"), frame('Z', "I")...)))
	if _, err := r.Next(0); err != nil {
		t.Fatal(err)
	}
	if !r.HasMessage() {
		t.Fatal("a whole buffered message not seen")
	}
}
