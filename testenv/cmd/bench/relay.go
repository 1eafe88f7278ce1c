package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/interlock-dev/interlock/daemon/rawio"
)

// The go-relay target is the floor of a Go proxy on this machine: a relay
// that moves bytes between pgbench and PostgreSQL with the same raw socket
// I/O as interlockd's relay (daemon/rawio: two goroutines a session, Go's
// poller) and nothing else: no identity, policy, audit or masking. The
// ratio go-relay/pgbouncer is what the Go runtime costs against
// pgbouncer's event loop; interlockd/go-relay is what enforcement costs.

// Read sizes of each direction, as interlockd's (pgwire's default reader
// for the client, session.go's upstreamReadBuffer for the server).
const (
	clientReadSize   = 16 << 10
	upstreamReadSize = 64 << 10
)

// startGoRelay runs the relay helper in front of PostgreSQL.
func startGoRelay(ctx context.Context, st *stack) (*target, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	listen := fmt.Sprintf("127.0.0.1:%d", port)
	upstream := net.JoinHostPort(st.pg.Host, fmt.Sprint(st.pg.Port))
	cmd, err := helperCommand(context.WithoutCancel(ctx), helperRelay, listen, upstream)
	if err != nil {
		return nil, err
	}
	c, err := startChild(targetGoRelay, cmd, filepath.Join(st.dir, "go-relay.log"))
	if err != nil {
		return nil, err
	}
	return adminProxyTarget(ctx, st, targetGoRelay, port, c)
}

// runRelay is the relay helper: it serves until SIGTERM or SIGINT.
func runRelay(args []string) error {
	if len(args) != 2 {
		return errors.New("usage: " + helperRelay + " LISTEN UPSTREAM")
	}
	ln, err := net.Listen("tcp", args[0])
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	context.AfterFunc(ctx, func() { ln.Close() })
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		wg.Go(func() {
			defer c.Close()
			// On SIGTERM the client's connection closes, which ends its
			// session: the relay exits without waiting for idle clients.
			defer context.AfterFunc(ctx, func() { c.Close() })()
			if err := relaySession(ctx, c, args[1]); err != nil && ctx.Err() == nil {
				fmt.Fprintf(os.Stderr, "session %s: %v\n", c.RemoteAddr(), err)
			}
		})
	}
}

// relaySession answers the client's startup, asking for a cleartext
// password, logs in upstream with the client's user, database and password
// (pgconn, SCRAM), then relays bytes both ways until either side closes.
func relaySession(ctx context.Context, c net.Conn, upstream string) error {
	be := pgproto3.NewBackend(c, c)
	var sm *pgproto3.StartupMessage
	for sm == nil {
		m, err := be.ReceiveStartupMessage()
		if err != nil {
			return fmt.Errorf("startup: %w", err)
		}
		switch m := m.(type) {
		case *pgproto3.SSLRequest, *pgproto3.GSSEncRequest:
			if _, err := c.Write([]byte{'N'}); err != nil {
				return err
			}
		case *pgproto3.StartupMessage:
			sm = m
		default:
			return nil // a CancelRequest: nothing to cancel here
		}
	}
	be.Send(&pgproto3.AuthenticationCleartextPassword{})
	if err := be.Flush(); err != nil {
		return err
	}
	if err := be.SetAuthType(pgproto3.AuthTypeCleartextPassword); err != nil {
		return err
	}
	m, err := be.Receive()
	if err != nil {
		return fmt.Errorf("password: %w", err)
	}
	pw, ok := m.(*pgproto3.PasswordMessage)
	if !ok {
		return fmt.Errorf("password: got %T", m)
	}
	cfg, err := pgconn.ParseConfig("postgres://" + upstream + "/?sslmode=disable")
	if err != nil {
		return fmt.Errorf("upstream address: %w", err)
	}
	cfg.User, cfg.Password, cfg.Database = sm.Parameters["user"], pw.Password, sm.Parameters["database"]
	pc, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		be.Send(&pgproto3.ErrorResponse{Severity: "FATAL", Code: "08006", Message: err.Error()})
		_ = be.Flush()
		return err
	}
	hj, err := pc.Hijack()
	if err != nil {
		return err
	}
	up := hj.Conn
	defer up.Close()
	be.Send(&pgproto3.AuthenticationOk{})
	for k, v := range hj.ParameterStatuses {
		be.Send(&pgproto3.ParameterStatus{Name: k, Value: v})
	}
	be.Send(&pgproto3.BackendKeyData{ProcessID: hj.PID, SecretKey: hj.SecretKey})
	be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
	if err := be.Flush(); err != nil {
		return err
	}
	cr, ur := rawio.Wrap(c), rawio.Wrap(up)
	done := make(chan struct{})
	go func() {
		defer close(done)
		pump(cr, ur, upstreamReadSize)
		c.Close() // the server closed: end the client's reads too
	}()
	pump(ur, cr, clientReadSize)
	up.Close()
	<-done
	return nil
}

// pump copies src to dst, reading up to size bytes at a time, until either
// fails.
func pump(dst io.Writer, src io.Reader, size int) {
	buf := make([]byte, size)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
