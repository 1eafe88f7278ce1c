package proxy

import (
	"bytes"
	"context"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/interlock-dev/interlock/daemon/pgwire"
	"github.com/interlock-dev/interlock/policy"
)

// discardConn is a client connection that swallows writes.
type discardConn struct{ net.Conn }

func (discardConn) Write(p []byte) (int, error)      { return len(p), nil }
func (discardConn) Close() error                     { return nil }
func (discardConn) SetWriteDeadline(time.Time) error { return nil }
func (discardConn) RemoteAddr() net.Addr             { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1} }

// FuzzClientMessages feeds arbitrary client bytes (after authentication)
// through the frontend path. It must never panic, and everything that
// reaches the upstream must be a statement the policy allows or the
// failing substitute.
func FuzzClientMessages(f *testing.F) {
	f.Add(encodeMsgs(&pgproto3.Query{String: "SELECT 1"}))
	f.Add(encodeMsgs(&pgproto3.Query{String: "DROP TABLE customers"}))
	f.Add(encodeMsgs(&pgproto3.Query{String: "SELECT 1; DELETE FROM customers"}))
	f.Add(encodeMsgs(&pgproto3.Parse{Name: "s", Query: "SELECT $1"}, &pgproto3.Bind{PreparedStatement: "s"}, &pgproto3.Execute{}, &pgproto3.Sync{}))
	f.Add(encodeMsgs(&pgproto3.Parse{Query: "DELETE FROM t"}, &pgproto3.Bind{}, &pgproto3.Execute{}, &pgproto3.Sync{}, &pgproto3.Query{String: "SELECT 2"}))
	f.Add(encodeMsgs(&pgproto3.Bind{DestinationPortal: "p", PreparedStatement: "nope"}, &pgproto3.Execute{Portal: "p"}, &pgproto3.Sync{}))
	f.Add(encodeMsgs(&pgproto3.FunctionCall{Function: 42}, &pgproto3.CopyData{Data: []byte("x")}, &pgproto3.Terminate{}))
	f.Add(encodeMsgs(&pgproto3.Query{String: "SELECT 'a\\' ; DROP TABLE t; --'"}))
	f.Add([]byte{'Q', 0, 0, 0, 4})
	srv := hotServer(f, nil)
	f.Fuzz(func(t *testing.T, in []byte) {
		sess := newSession(srv)
		var up bytes.Buffer
		sess.uw = pgwire.NewWriter(&up)
		ctx := context.Background()
		r := pgwire.NewReader(bytes.NewReader(in))
		for !sess.fe.terminated {
			m, err := r.Next(1 << 20)
			if err != nil {
				break
			}
			if err := sess.onClientMessage(ctx, m); err != nil {
				break
			}
		}
		_ = sess.uw.Flush()
		// Check what went upstream with a fresh policy session.
		fresh := sess.srv.cfg.Policy.Session(policy.Context{
			User:     policy.User{Sub: "carol", Groups: []string{"readers"}},
			Endpoint: policy.Endpoint{Name: "bench", Labels: map[string]string{"environment": "development"}},
		})
		ur := pgwire.NewReader(bytes.NewReader(up.Bytes()))
		for {
			m, err := ur.Next(0)
			if err != nil {
				break
			}
			var text string
			switch m.Type {
			case 'Q':
				text = cstring(m.Body)
			case 'P':
				_, rest, _ := cut(m.Body)
				text = cstring(rest)
			default:
				continue
			}
			if text == deniedSQL {
				continue
			}
			for _, scs := range []policy.SCS{policy.SCSOn, policy.SCSOff} {
				res, _ := fresh.Check(ctx, text, scs)
				if res == nil || !res.Allowed() {
					t.Fatalf("forwarded upstream although denied (scs %v): %q", scs, text)
				}
			}
		}
	})
}
