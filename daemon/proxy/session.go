package proxy

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os/user"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/interlock-dev/interlock/daemon/audit"
	"github.com/interlock-dev/interlock/daemon/identity"
	"github.com/interlock-dev/interlock/daemon/pgwire"
	"github.com/interlock-dev/interlock/daemon/rawio"
	"github.com/interlock-dev/interlock/daemon/recording"
	"github.com/interlock-dev/interlock/policy"
)

// session is one client connection and its upstream connection.
type session struct {
	srv   *Server
	ep    *Endpoint
	id    string
	log   *slog.Logger
	start time.Time

	client net.Conn
	cio    io.ReadWriter // client, through rawio.Wrap
	cr     *pgwire.Reader
	cwMu   sync.Mutex // guards cw: the backend loop and terminate write to the client
	cw     *pgwire.Writer

	tls bool // the client negotiated TLS

	up net.Conn
	// upHold: up is a plain socket, whose read deadlines the backend loop
	// uses to hold rows back (a TLS connection's are left alone).
	upHold bool
	ur     *pgwire.Reader
	uw     *pgwire.Writer
	upPID  uint32
	upKey  []byte

	key      cancelKey
	ident    *identity.Identity
	authMode string                     // authSession or authToken
	origin   *policy.Origin             // nil unless redirected
	expiry   atomic.Pointer[time.Timer] // set after the session is registered
	upUser   string
	params   map[string]string
	check    *policy.Session

	ops opQueue

	// state shared by both loops, under stateMu.
	stateMu  sync.Mutex
	scs      bool   // standard_conforming_strings as last reported
	encoding string // client_encoding as last reported
	txStatus byte

	// frontend loop state.
	fe frontendState
	// backend loop state.
	be backendState

	held atomic.Pointer[holding] // a statement held for approval
	rec  *recording.Session      // nil unless the endpoint records

	termOnce sync.Once
	// termErr is set, from any goroutine, once the session is ending: by
	// terminate, and before it by Server.TerminateUID. The frontend
	// forwards no message it reads after that.
	termErr atomic.Pointer[pgproto3.ErrorResponse]
}

// Authentication modes, as recorded in audit.
const (
	authSession = "session"
	authToken   = "token"
)

var shutdownErr = pgwire.Fatal(pgwire.CodeAdminShutdown, "terminating connection: interlockd is shutting down")

// handle runs one client connection from accept to close.
func (s *Server) handle(ctx context.Context, c net.Conn, ep *Endpoint) {
	sess := &session{
		srv:    s,
		ep:     ep,
		id:     newID(),
		start:  time.Now(),
		client: c,
		scs:    true,
	}
	sess.cio = rawio.Wrap(c)
	sess.cw = pgwire.NewWriter(sess.cio)
	sess.log = s.log.With("session_id", sess.id, "endpoint", ep.Name, "client", c.RemoteAddr().String())
	defer c.Close()
	if s.cfg.Origins != nil {
		// Right after accept: the kernel forgets the origin when the
		// client's socket closes.
		remote, rerr := netip.ParseAddrPort(c.RemoteAddr().String())
		local, lerr := netip.ParseAddrPort(c.LocalAddr().String())
		if rerr == nil && lerr == nil {
			o, err := s.cfg.Origins(ctx, remote, local)
			switch {
			case err == nil:
				sess.origin = o
				sess.log = sess.log.With("pid", o.PID, "uid", o.UID, "comm", o.Comm)
			case !errors.Is(err, ErrNoOrigin):
				sess.log.Warn("origin lookup", "err", err)
			}
		}
	}

	_ = c.SetDeadline(time.Now().Add(s.cfg.StartupTimeout))
	ok, err := sess.startup(ctx)
	if err != nil {
		sess.log.Info("connection rejected", "err", err)
	}
	if !ok {
		return
	}
	_ = c.SetDeadline(time.Time{})
	defer s.unregister(sess)
	s.cfg.Metrics.SessionsActive.Inc()
	s.cfg.Metrics.SessionsTotal.Inc()
	defer s.cfg.Metrics.SessionsActive.Dec()
	sess.relay(ctx)
}

func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// reject sends a FATAL error, counts the reason, audits the refusal and
// reports the error to the caller.
func (sess *session) reject(reason, code, msg string) (bool, error) {
	sess.srv.cfg.Metrics.ConnectionsRejected.WithLabelValues(reason).Inc()
	_ = sess.cw.Send(pgwire.Fatal(code, msg))
	_ = sess.cw.Flush()
	var b audit.Body
	b.Reset(typeConnectionRejected)
	b.Str("session", sess.id).Str("endpoint", sess.ep.Name).Str("client_addr", sess.client.RemoteAddr().String()).
		Str("reason", reason).Str("error", msg)
	if sess.ident != nil {
		b.Str("user", sess.ident.Subject)
	}
	_ = sess.srv.writeAudit(sess.log, b)
	return false, errors.New(msg)
}

// startup runs the startup phase: negotiation, authentication, upstream
// connect. It reports whether the session is ready to relay.
func (sess *session) startup(ctx context.Context) (bool, error) {
	s := sess.srv
	var st *pgwire.Startup
	sslDone, gssDone := false, false
	for st == nil {
		p, err := pgwire.ReadStartup(sess.client)
		var verr *pgwire.VersionError
		var merr *pgwire.MinorVersionError
		switch {
		case err == nil:
		case errors.As(err, &merr):
			// Protocol 3.x, x > 0: offer 3.0 as the server does.
			_ = sess.cw.Send(&pgproto3.NegotiateProtocolVersion{NewestMinorProtocol: 0, UnrecognizedOptions: merr.Unknown})
			p = merr.Startup
		case errors.As(err, &verr):
			return sess.reject("protocol_version", pgwire.CodeFeatureNotSupported, verr.Error())
		case errors.Is(err, pgwire.ErrMalformedStartup):
			return sess.reject("malformed_startup", pgwire.CodeProtocolViolation, "invalid startup packet: "+err.Error())
		case errors.Is(err, io.EOF):
			return false, nil // connection probe
		default:
			return false, fmt.Errorf("read startup packet: %w", err)
		}
		switch p.Kind {
		case pgwire.KindSSLRequest:
			if sslDone {
				return sess.reject("malformed_startup", pgwire.CodeProtocolViolation, "invalid startup packet: SSL negotiation already done")
			}
			sslDone = true
			if err := sess.startTLS(); err != nil {
				return false, err
			}
		case pgwire.KindGSSENCRequest:
			if gssDone {
				return sess.reject("malformed_startup", pgwire.CodeProtocolViolation, "invalid startup packet: GSSAPI negotiation already done")
			}
			gssDone = true
			if _, err := sess.client.Write([]byte{'N'}); err != nil {
				return false, err
			}
		case pgwire.KindCancel:
			s.cancel(ctx, p.ProcessID, p.SecretKey)
			return false, nil
		case pgwire.KindStartup:
			st = p
		}
	}
	sess.params = st.Params
	if sess.ep.RequireTLS && !sess.tls {
		return sess.reject("tls_required", pgwire.CodeInvalidAuthorization, "Interlock requires TLS on this endpoint: connect with sslmode=require (or verify-full)")
	}
	if st.Params["replication"] != "" && !strings.EqualFold(st.Params["replication"], "false") {
		return sess.reject("replication", pgwire.CodeFeatureNotSupported, "replication connections are not supported through Interlock")
	}
	if st.Params["user"] == "" {
		return sess.reject("malformed_startup", pgwire.CodeInvalidAuthorization, "no PostgreSQL user name specified in startup packet")
	}

	ident, ok, err := sess.authenticate(ctx)
	if !ok {
		return ok, err
	}
	sess.ident = ident

	role, password, err := sess.role()
	if err != nil {
		return sess.reject("no_role", pgwire.CodeInvalidAuthorization, err.Error())
	}
	sess.upUser = role
	db := sess.ep.Database
	if db == "" {
		db = st.Params["database"]
	}
	if db == "" {
		db = st.Params["user"]
	}
	sess.params["database"] = db
	h, err := sess.ep.Dialer.Connect(ctx, role, password, db, st.Params)
	if err != nil {
		s.cfg.Metrics.UpstreamErrors.WithLabelValues("connect").Inc()
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code != "28P01" && pgErr.Code != "28000" {
			// The server's own refusal (unknown database, too many
			// connections) is the client's business; auth failures of the
			// brokered credential are not.
			return sess.reject("upstream", pgErr.Code, pgErr.Message)
		}
		sess.log.Error("upstream connect", "err", err, "upstream_user", role)
		return sess.reject("upstream", pgwire.CodeConnectionFailure, "could not connect to the database through Interlock (see interlockd's log)")
	}
	sess.up = h.Conn
	uio := rawio.Wrap(h.Conn)
	_, upTLS := h.Conn.(*tls.Conn)
	sess.upHold = !upTLS
	sess.ur = pgwire.NewReaderSize(uio, upstreamReadBuffer)
	sess.uw = pgwire.NewWriter(uio)
	sess.upPID, sess.upKey = h.PID, h.SecretKey
	sess.txStatus = h.TxStatus
	if v, ok := h.ParameterStatuses["standard_conforming_strings"]; ok {
		sess.scs = v == "on"
	}
	sess.encoding = h.ParameterStatuses["client_encoding"]

	key, ok := s.register(sess)
	if !ok {
		h.Conn.Close()
		return sess.reject("shutdown", pgwire.CodeAdminShutdown, "interlockd is shutting down")
	}
	sess.key = key
	sess.check = s.cfg.Policy.Session(sess.policyContext())

	var b audit.Body
	sess.sessionStartRecord(&b)
	if err := s.writeAudit(sess.log, b); err != nil {
		h.Conn.Close()
		s.unregister(sess)
		return sess.reject("audit", pgwire.CodeSystemError, "audit log unavailable: connection refused")
	}
	if sess.ep.Record && s.cfg.Recorder != nil {
		var err error
		sess.rec, err = s.cfg.Recorder.Open(sess.id, recording.SessionMeta{User: ident.Subject, Endpoint: sess.ep.Name, Database: db, Start: sess.start})
		if err != nil {
			sess.log.Warn("session recording unavailable", "err", err)
		}
	}

	_ = sess.cw.Send(&pgproto3.AuthenticationOk{})
	names := make([]string, 0, len(h.ParameterStatuses))
	for k := range h.ParameterStatuses {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		_ = sess.cw.Send(&pgproto3.ParameterStatus{Name: k, Value: h.ParameterStatuses[k]})
	}
	var secret [4]byte
	binary.BigEndian.PutUint32(secret[:], key.secret)
	_ = sess.cw.Send(&pgproto3.BackendKeyData{ProcessID: key.pid, SecretKey: secret[:]})
	_ = sess.cw.Send(&pgproto3.ReadyForQuery{TxStatus: h.TxStatus})
	if err := sess.cw.Flush(); err != nil {
		h.Conn.Close()
		sess.srv.unregister(sess)
		return false, err
	}
	sess.log = sess.log.With("user", ident.Subject, "upstream_user", role)
	sess.log.Info("session started", "auth", sess.authMode)
	if sess.authMode == authToken && !ident.Expiry.IsZero() {
		// A token-authenticated session lives no longer than its token.
		sess.expiry.Store(time.AfterFunc(time.Until(ident.Expiry), func() {
			sess.log.Info("terminating session: token expired")
			sess.terminate(pgwire.Fatal(pgwire.CodeAdminShutdown, "terminating connection: the Interlock token used to authenticate has expired; reconnect with a fresh token"))
		}))
	}
	return true, nil
}

// startTLS answers an SSLRequest: 'S' and a TLS handshake when the
// endpoint has TLS, else 'N' (the client may continue in plaintext).
func (sess *session) startTLS() error {
	if sess.ep.TLS == nil {
		_, err := sess.client.Write([]byte{'N'})
		return err
	}
	if _, err := sess.client.Write([]byte{'S'}); err != nil {
		return err
	}
	tc := tls.Server(sess.client, sess.ep.TLS)
	if err := tc.Handshake(); err != nil {
		sess.srv.cfg.Metrics.ConnectionsRejected.WithLabelValues("tls_handshake").Inc()
		return fmt.Errorf("tls handshake: %w", err)
	}
	sess.client, sess.cio = tc, tc
	sess.cw = pgwire.NewWriter(tc)
	sess.tls = true
	return nil
}

// authenticate binds the connection to an identity: the host session of
// the connecting uid for redirected connections, else an OIDC token sent
// as the password.
func (sess *session) authenticate(ctx context.Context) (*identity.Identity, bool, error) {
	ep, o := sess.ep, sess.origin
	if o != nil && ep.AuthSession && sess.srv.cfg.Sessions != nil {
		if id, ok := sess.srv.cfg.Sessions.Lookup(uint32(o.UID)); ok {
			// The client's password is never asked for, let alone used.
			sess.authMode = authSession
			sess.cr = pgwire.NewReader(sess.cio)
			return id, true, nil
		}
	}
	if !ep.AuthToken {
		var msg string
		if o != nil {
			msg = noSessionMsg(o.UID)
		} else {
			msg = "this endpoint accepts only host sessions of redirected connections; connect to the database's own address after \"interlock login\""
		}
		ok, err := sess.reject("no_session", pgwire.CodeInvalidAuthorization, msg)
		return nil, ok, err
	}
	_ = sess.cw.Send(&pgproto3.AuthenticationCleartextPassword{})
	if err := sess.cw.Flush(); err != nil {
		return nil, false, err
	}
	sess.cr = pgwire.NewReader(sess.cio)
	msg, err := sess.cr.Next(maxTokenLen)
	if err != nil {
		var tl *pgwire.TooLargeError
		if errors.As(err, &tl) {
			ok, err := sess.reject("malformed_startup", pgwire.CodeProtocolViolation, "password packet too large")
			return nil, ok, err
		}
		return nil, false, fmt.Errorf("read password: %w", err)
	}
	if msg.Type != 'p' {
		ok, err := sess.reject("malformed_startup", pgwire.CodeProtocolViolation, fmt.Sprintf("expected password response, got message type %q", msg.Type))
		return nil, ok, err
	}
	var pm pgproto3.PasswordMessage
	if err := pm.Decode(msg.Body); err != nil {
		ok, err := sess.reject("malformed_startup", pgwire.CodeProtocolViolation, "invalid password packet")
		return nil, ok, err
	}
	if o != nil && strings.Count(pm.Password, ".") != 2 {
		// A redirected client sent an ordinary password: it expected its
		// host session to be used.
		ok, err := sess.reject("no_session", pgwire.CodeInvalidAuthorization, noSessionMsg(o.UID))
		return nil, ok, err
	}
	ident, err := sess.srv.cfg.Verifier.Verify(ctx, pm.Password)
	if err != nil {
		var te *identity.TokenError
		reason := "token"
		if errors.As(err, &te) {
			reason = "token_" + string(te.Cause)
		}
		ok, err := sess.reject(reason, pgwire.CodeInvalidPassword, "Interlock authentication failed: "+err.Error())
		return nil, ok, err
	}
	sess.authMode = authToken
	return ident, true, nil
}

// noSessionMsg is the error for a redirected connection without a session.
func noSessionMsg(uid int) string {
	name := "unknown user"
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		name = u.Username
	}
	return fmt.Sprintf("no Interlock session for uid %d (%s): run \"interlock login\"", uid, name)
}

// upstreamReadBuffer sizes the buffer results are read into: bulk results
// then cost fewer system calls.
const upstreamReadBuffer = 64 << 10

// maxTokenLen bounds the password message (a JWT).
const maxTokenLen = 64 << 10

// role finds the upstream user for the identity's groups.
func (sess *session) role() (user, password string, err error) {
	for _, r := range sess.ep.Roles {
		if r.Group == "*" || slices.Contains(sess.ident.Groups, r.Group) {
			pw, err := r.Password()
			if err != nil {
				sess.log.Error("brokered credential unavailable", "err", err)
				return "", "", fmt.Errorf("no usable upstream credential for role %s (see interlockd's log)", r.User)
			}
			return r.User, pw, nil
		}
	}
	return "", "", fmt.Errorf("no upstream role on endpoint %s for %s (groups %v)", sess.ep.Name, sess.ident.Subject, sess.ident.Groups)
}

func (sess *session) policyContext() policy.Context {
	addr := ""
	if ap, err := netip.ParseAddrPort(sess.client.RemoteAddr().String()); err == nil {
		addr = ap.Addr().Unmap().String()
	}
	return policy.Context{
		User: policy.User{Sub: sess.ident.Subject, Email: sess.ident.Email, Groups: sess.ident.Groups},
		Session: policy.SessionInfo{
			Database:        sess.params["database"],
			UpstreamUser:    sess.upUser,
			ApplicationName: sess.params["application_name"],
			ClientAddr:      addr,
		},
		Endpoint: policy.Endpoint{Name: sess.ep.Name, Labels: sess.ep.Labels},
		Origin:   sess.origin,
	}
}

// cancelUpstream forwards a cancel to the upstream backend.
func (sess *session) cancelUpstream(ctx context.Context) error {
	return sess.ep.Dialer.Cancel(ctx, sess.upPID, sess.upKey)
}

// tryLock locks mu within d.
func tryLock(mu *sync.Mutex, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for !mu.TryLock() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(time.Millisecond)
	}
	return true
}

// terminate ends the session with a FATAL error to the client.
func (sess *session) terminate(e *pgproto3.ErrorResponse) { sess.end(e, false) }

// terminateHeld is terminate for a caller that holds cwMu.
func (sess *session) terminateHeld(e *pgproto3.ErrorResponse) { sess.end(e, true) }

func (sess *session) end(e *pgproto3.ErrorResponse, held bool) {
	sess.termOnce.Do(func() {
		if t := sess.expiry.Load(); t != nil {
			t.Stop()
		}
		sess.termErr.Store(e)
		// The backend loop may hold the writer while it streams a large
		// message; the FATAL is best effort, closing is not.
		if held || tryLock(&sess.cwMu, time.Second) {
			_ = sess.client.SetWriteDeadline(time.Now().Add(time.Second))
			_ = sess.cw.Send(e)
			_ = sess.cw.Flush()
			if !held {
				sess.cwMu.Unlock()
			}
		}
		_ = sess.client.Close()
		if sess.up != nil {
			_ = sess.up.Close()
		}
	})
}
