package pgwire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/jackc/pgx/v5/pgproto3"
)

// MaxStartupLen is the largest startup packet accepted, as in PostgreSQL.
const MaxStartupLen = 10000

// Request codes that share the startup packet's framing.
const (
	codeCancel = 80877102
	codeSSL    = 80877103
	codeGSSENC = 80877104
	protocol30 = 3 << 16
	majorOf    = 16
)

// StartupKind says what a startup-phase packet asks for.
type StartupKind int

const (
	KindStartup StartupKind = iota + 1
	KindSSLRequest
	KindGSSENCRequest
	KindCancel
)

// Startup is a decoded startup-phase packet.
type Startup struct {
	Kind StartupKind
	// Version is the requested protocol version (KindStartup).
	Version uint32
	// Params are the startup parameters (KindStartup, protocol 3.0).
	Params map[string]string
	// ProcessID and SecretKey identify the session to cancel (KindCancel).
	ProcessID uint32
	SecretKey []byte
}

// VersionError is returned for a protocol version the proxy does not speak.
type VersionError struct{ Version uint32 }

func (e *VersionError) Error() string {
	return fmt.Sprintf("unsupported frontend protocol %d.%d: server supports 3.0 to 3.0", e.Version>>majorOf, e.Version&0xffff)
}

// MinorVersionError is returned for protocol 3.x with x > 0; the server
// answers it with NegotiateProtocolVersion and carries on with 3.0.
type MinorVersionError struct {
	Version uint32
	Startup *Startup
	Unknown []string // _pq_ options the proxy does not support
}

func (e *MinorVersionError) Error() string {
	return fmt.Sprintf("protocol 3.%d requested; 3.0 offered", e.Version&0xffff)
}

// ErrMalformedStartup is wrapped by every startup packet decoding error.
var ErrMalformedStartup = errors.New("malformed startup packet")

// ReadStartup reads one startup-phase packet (StartupMessage, SSLRequest,
// GSSENCRequest or CancelRequest) from r.
func ReadStartup(r io.Reader) (*Startup, error) {
	var hdr [8]byte
	if _, err := io.ReadFull(r, hdr[:4]); err != nil {
		return nil, err
	}
	n := int(int32(binary.BigEndian.Uint32(hdr[:4])))
	if n < 8 || n > MaxStartupLen {
		return nil, fmt.Errorf("%w: invalid length %d", ErrMalformedStartup, n)
	}
	body := make([]byte, n-4)
	if _, err := io.ReadFull(r, body); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("%w: %w", ErrMalformedStartup, err)
	}
	code := binary.BigEndian.Uint32(body)
	switch code {
	case codeSSL, codeGSSENC:
		if n != 8 {
			return nil, fmt.Errorf("%w: invalid length %d for request", ErrMalformedStartup, n)
		}
		if code == codeSSL {
			return &Startup{Kind: KindSSLRequest}, nil
		}
		return &Startup{Kind: KindGSSENCRequest}, nil
	case codeCancel:
		var m pgproto3.CancelRequest
		if err := m.Decode(body); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrMalformedStartup, err)
		}
		return &Startup{Kind: KindCancel, ProcessID: m.ProcessID, SecretKey: m.SecretKey}, nil
	}
	if code>>majorOf != 3 {
		return nil, &VersionError{Version: code}
	}
	params, err := decodeParams(body[4:])
	if err != nil {
		return nil, err
	}
	s := &Startup{Kind: KindStartup, Version: code, Params: params}
	if code != protocol30 {
		var unknown []string
		for k := range params {
			if len(k) > 4 && k[:4] == "_pq_" {
				unknown = append(unknown, k)
				delete(params, k)
			}
		}
		return s, &MinorVersionError{Version: code, Startup: s, Unknown: unknown}
	}
	return s, nil
}

// decodeParams decodes NUL-terminated name/value pairs ended by a NUL.
func decodeParams(b []byte) (map[string]string, error) {
	params := make(map[string]string)
	for {
		if len(b) == 0 {
			return nil, fmt.Errorf("%w: parameters not terminated", ErrMalformedStartup)
		}
		if b[0] == 0 {
			if len(b) != 1 {
				return nil, fmt.Errorf("%w: trailing bytes after parameters", ErrMalformedStartup)
			}
			return params, nil
		}
		k, rest, ok := cutNUL(b)
		if !ok {
			return nil, fmt.Errorf("%w: unterminated parameter name", ErrMalformedStartup)
		}
		v, rest2, ok := cutNUL(rest)
		if !ok {
			return nil, fmt.Errorf("%w: unterminated value of %q", ErrMalformedStartup, k)
		}
		params[k] = v
		b = rest2
	}
}

func cutNUL(b []byte) (string, []byte, bool) {
	for i, c := range b {
		if c == 0 {
			return string(b[:i]), b[i+1:], true
		}
	}
	return "", nil, false
}
