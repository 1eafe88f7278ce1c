package proxy

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/interlock-dev/interlock/daemon/approval"
	"github.com/interlock-dev/interlock/daemon/audit"
	"github.com/interlock-dev/interlock/daemon/catalog"
	"github.com/interlock-dev/interlock/daemon/config"
	"github.com/interlock-dev/interlock/daemon/identity"
	"github.com/interlock-dev/interlock/daemon/metrics"
	"github.com/interlock-dev/interlock/daemon/pgwire"
	"github.com/interlock-dev/interlock/daemon/recording"
	"github.com/interlock-dev/interlock/daemon/upstream"
	"github.com/interlock-dev/interlock/policy"
	"github.com/interlock-dev/interlock/policy/analysis"
	"github.com/interlock-dev/interlock/policy/mask"
)

// Endpoint is one protected database as the proxy serves it.
type Endpoint struct {
	Name   string
	Labels map[string]string
	// Listen is the client-facing address.
	Listen string
	// Database, when set, replaces the database the client asks for.
	Database string
	// Dialer reaches the upstream server.
	Dialer *upstream.Dialer
	// Roles map groups to brokered upstream users, first match wins.
	Roles []config.Role
	// Catalog reads the endpoint's system catalogs (FunctionCall names).
	Catalog *catalog.Catalog
	// TLS, when set, answers SSLRequest with TLS; RequireTLS refuses
	// clients that did not negotiate it.
	TLS        *tls.Config
	RequireTLS bool
	// Record keeps what the database returns in each session (Recorder).
	Record bool
	// ApprovalMode is how statements that need approval are handled:
	// held in the session (blocking, default) or failed at once.
	ApprovalMode approval.Mode
	// AuthSession accepts redirected connections bound to the host session
	// of the connecting uid; AuthToken accepts an OIDC token as password.
	AuthSession, AuthToken bool
}

// OriginFunc returns the origin of a redirected connection, given its
// client (remote) and listener (local) addresses, or ErrNoOrigin.
type OriginFunc func(ctx context.Context, client, listener netip.AddrPort) (*policy.Origin, error)

// ErrNoOrigin means a connection did not come through the redirect.
var ErrNoOrigin = errors.New("no origin: not a redirected connection")

// HostSessions finds the identity logged in on the host for a uid.
type HostSessions interface {
	Lookup(uid uint32) (*identity.Identity, bool)
}

// Config configures a Server.
type Config struct {
	Endpoints []Endpoint
	Verifier  *identity.Verifier
	Policy    *policy.Engine
	Audit     *audit.Log
	Metrics   *metrics.Metrics
	Logger    *slog.Logger
	// MaxMessageSize bounds client messages other than CopyData.
	MaxMessageSize int
	// StartupTimeout bounds the startup and authentication phase.
	StartupTimeout time.Duration
	// MaxStatementBytes bounds statement text in audit records.
	MaxStatementBytes int
	// MaskHashKey keys the hash masking strategy (HMAC-SHA256); empty
	// means a random key per start.
	MaskHashKey []byte
	// DrainTimeout is how long Serve lets sessions finish after its
	// context ends before terminating them.
	DrainTimeout time.Duration
	// Origins looks up the origin of redirected connections; nil when the
	// redirect is off.
	Origins OriginFunc
	// Sessions holds host sessions (interlock login); nil disables them.
	Sessions HostSessions
	// Approvals handles statements the policy holds for approval; nil
	// refuses them.
	Approvals *approval.Service
	// Recorder records sessions of endpoints with Record.
	Recorder *recording.Recorder
}

// Server accepts clients on every endpoint's listener.
type Server struct {
	cfg       Config
	log       *slog.Logger
	listeners []*listener

	hasher *mask.Hasher

	viewMu sync.Mutex
	views  map[string][]analysis.OutputColumn // view definition → lineage

	mu       sync.Mutex
	sessions map[*session]struct{}
	keys     map[cancelKey]*session
	closed   bool
	wg       sync.WaitGroup
}

type listener struct {
	net.Listener
	ep *Endpoint
}

// cancelKey is the BackendKeyData the proxy gives a client.
type cancelKey struct {
	pid    uint32
	secret uint32
}

// New binds every endpoint's listener.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MaxMessageSize == 0 {
		cfg.MaxMessageSize = config.DefaultMaxMessageSize
	}
	if cfg.StartupTimeout == 0 {
		cfg.StartupTimeout = config.DefaultStartupTimeout
	}
	if cfg.MaxStatementBytes == 0 {
		cfg.MaxStatementBytes = config.DefaultMaxStatementBytes
	}
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.New()
	}
	if cfg.Verifier == nil || cfg.Policy == nil || cfg.Audit == nil {
		return nil, errors.New("proxy: verifier, policy and audit are required")
	}
	s := &Server{
		cfg:      cfg,
		log:      cfg.Logger,
		sessions: map[*session]struct{}{},
		keys:     map[cancelKey]*session{},
		views:    map[string][]analysis.OutputColumn{},
	}
	key := cfg.MaskHashKey
	if len(key) == 0 {
		key = make([]byte, 32)
		_, _ = rand.Read(key)
		cfg.Logger.Warn("no masking hash key configured: hash-masked values are stable only until interlockd restarts")
	}
	h, err := mask.NewHasher(key)
	if err != nil {
		return nil, fmt.Errorf("masking hash key: %w", err)
	}
	s.hasher = h
	var lc net.ListenConfig
	for i := range cfg.Endpoints {
		ep := &s.cfg.Endpoints[i]
		ln, err := lc.Listen(ctx, "tcp", ep.Listen)
		if err != nil {
			_ = s.closeListeners()
			return nil, fmt.Errorf("listen for endpoint %s: %w", ep.Name, err)
		}
		s.listeners = append(s.listeners, &listener{Listener: ln, ep: ep})
	}
	return s, nil
}

// Addr returns the bound address of the named endpoint's listener.
func (s *Server) Addr(endpoint string) net.Addr {
	for _, l := range s.listeners {
		if l.ep.Name == endpoint {
			return l.Addr()
		}
	}
	return nil
}

// Serve accepts connections until ctx is done, then closes the listeners,
// ends every session with an admin-shutdown error and waits for them.
func (s *Server) Serve(ctx context.Context) error {
	// Sessions outlive ctx by up to the drain timeout.
	sessCtx, endSessions := context.WithCancel(context.WithoutCancel(ctx))
	defer endSessions()
	errc := make(chan error, len(s.listeners))
	for _, l := range s.listeners {
		go func() { errc <- s.accept(ctx, sessCtx, l) }()
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	_ = s.closeListeners()
	s.mu.Lock()
	s.closed = true
	n := len(s.sessions)
	s.mu.Unlock()
	if n > 0 && s.cfg.DrainTimeout > 0 {
		s.log.Info("draining sessions", "sessions", n, "deadline", s.cfg.DrainTimeout)
		done := make(chan struct{})
		go func() { s.wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(s.cfg.DrainTimeout):
		}
	}
	s.mu.Lock()
	for sess := range s.sessions {
		sess.terminate(shutdownErr)
	}
	s.mu.Unlock()
	endSessions()
	s.wg.Wait()
	return err
}

func (s *Server) accept(ctx, sessCtx context.Context, l *listener) error {
	for {
		c, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("accept on %s: %w", l.Addr(), err)
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.handle(sessCtx, c, l.ep)
		}()
	}
}

// Close closes the listeners. Serve's context ends the sessions.
func (s *Server) Close() error { return s.closeListeners() }

func (s *Server) closeListeners() error {
	var errs []error
	for _, l := range s.listeners {
		if err := l.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// register adds a session and gives it a unique cancel key.
func (s *Server) register(sess *session) (cancelKey, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return cancelKey{}, false
	}
	for {
		var b [8]byte
		_, _ = rand.Read(b[:])
		k := cancelKey{pid: binary.BigEndian.Uint32(b[:4]) &^ (1 << 31), secret: binary.BigEndian.Uint32(b[4:])}
		if k.pid == 0 {
			continue
		}
		if _, dup := s.keys[k]; !dup {
			s.keys[k] = sess
			s.sessions[sess] = struct{}{}
			return k, true
		}
	}
}

func (s *Server) unregister(sess *session) {
	s.mu.Lock()
	delete(s.keys, sess.key)
	delete(s.sessions, sess)
	s.mu.Unlock()
}

// cancel handles a CancelRequest: it is forwarded to the upstream backend
// of the session that owns the key; an unknown key is ignored, as the
// server does.
func (s *Server) cancel(ctx context.Context, pid uint32, secret []byte) {
	if len(secret) != 4 {
		s.cfg.Metrics.CancelRequests.WithLabelValues("unknown").Inc()
		return
	}
	k := cancelKey{pid: pid, secret: binary.BigEndian.Uint32(secret)}
	s.mu.Lock()
	sess := s.keys[k]
	s.mu.Unlock()
	if sess == nil {
		s.cfg.Metrics.CancelRequests.WithLabelValues("unknown").Inc()
		return
	}
	if sess.withdrawHeld() {
		s.cfg.Metrics.CancelRequests.WithLabelValues("withdrawn").Inc()
		return
	}
	if err := sess.cancelUpstream(ctx); err != nil {
		s.cfg.Metrics.CancelRequests.WithLabelValues("error").Inc()
		sess.log.Warn("forward cancel request", "err", err)
		return
	}
	s.cfg.Metrics.CancelRequests.WithLabelValues("forwarded").Inc()
}

// TerminateUID ends every session bound to uid's host session, e.g. after
// logout or when the host session expired. It does not block: when it
// returns, the sessions refuse every further message, and they are closed
// (after a FATAL to the client) in the background.
func (s *Server) TerminateUID(uid uint32, why string) int {
	msg := pgwire.Fatal(pgwire.CodeAdminShutdown, fmt.Sprintf("terminating connection: the Interlock session of uid %d ended (%s); run \"interlock login\"", uid, why))
	s.mu.Lock()
	var victims []*session
	for sess := range s.sessions {
		if sess.authMode == authSession && sess.origin != nil && uint32(sess.origin.UID) == uid {
			victims = append(victims, sess)
		}
	}
	s.mu.Unlock()
	for _, sess := range victims {
		sess.termErr.CompareAndSwap(nil, msg) // an earlier reason stands
		sess.log.Info("terminating session: host session ended", "uid", uid, "reason", why)
		go sess.terminate(msg)
	}
	return len(victims)
}
