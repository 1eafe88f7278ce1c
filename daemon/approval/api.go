package approval

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/interlock-dev/interlock/daemon/control"
	"github.com/interlock-dev/interlock/daemon/identity"
)

// TokenVerifier verifies OIDC bearer tokens; *identity.Verifier implements it.
type TokenVerifier interface {
	Verify(ctx context.Context, raw string) (*identity.Identity, error)
}

// APIConfig configures the HTTP API over TCP.
type APIConfig struct {
	// Listen is host:port. Required.
	Listen string
	// Verifier checks bearer tokens (issuer, audience, expiry, signature).
	// Required.
	Verifier TokenVerifier
	// TLSCertFile and TLSKeyFile serve HTTPS. Without them the API only
	// listens on a loopback address, unless AllowPlaintext is set (e.g.
	// behind a TLS-terminating sidecar): bearer tokens must not cross a
	// network in clear.
	TLSCertFile    string
	TLSKeyFile     string
	AllowPlaintext bool
	// MaxBodyBytes bounds request bodies. Default control.DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Logger receives request errors. Default: the service's.
	Logger *slog.Logger
}

// Validate checks c and fills in defaults.
func (c *APIConfig) Validate() error {
	if c.Listen == "" || c.Verifier == nil {
		return errors.New("approval API: a listen address and a token verifier are required")
	}
	host, _, err := net.SplitHostPort(c.Listen)
	if err != nil {
		return fmt.Errorf("approval API: listen address %q: %w", c.Listen, err)
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		return errors.New("approval API: set both a TLS certificate and key, or neither")
	}
	if c.TLSCertFile == "" && !c.AllowPlaintext && !isLoopback(host) {
		return fmt.Errorf("approval API: %s is not a loopback address: configure TLS (or allow plaintext explicitly behind a TLS proxy)", c.Listen)
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = control.DefaultMaxBodyBytes
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// API serves the request routes over TCP with OIDC bearer tokens, for
// chat and ticket integrations (same routes and bodies as the control
// socket; see MountControl).
type API struct {
	cfg APIConfig
	ln  net.Listener
	srv *http.Server

	closeOnce sync.Once
	closeErr  error
}

// NewAPI listens on cfg.Listen; Serve then answers requests.
func NewAPI(ctx context.Context, svc *Service, cfg APIConfig) (*API, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = svc.log
	}
	log := cfg.Logger.With("transport", "api", "listen", cfg.Listen)
	var tlsCfg *tls.Config
	if cfg.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCertFile, cfg.TLSKeyFile)
		if err != nil {
			return nil, fmt.Errorf("approval API: load TLS key pair: %w", err)
		}
		tlsCfg = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("approval API: listen: %w", err)
	}
	if tlsCfg != nil {
		ln = tls.NewListener(ln, tlsCfg)
	}
	mux := http.NewServeMux()
	h := &handlers{
		svc: svc, log: log,
		who:          func(r *http.Request) (Viewer, *authError) { return bearerViewer(r, cfg.Verifier) },
		needIdentity: &authError{http.StatusUnauthorized, control.CodeNoToken, "a bearer token is required"},
		challenge:    "Bearer",
	}
	h.mount(mux)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		control.WriteError(w, http.StatusNotFound, control.CodeNotFound, fmt.Sprintf("unknown endpoint %s %s", r.Method, r.URL.Path))
	})
	a := &API{cfg: cfg, ln: ln}
	a.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r.Body = http.MaxBytesReader(w, r.Body, cfg.MaxBodyBytes)
			mux.ServeHTTP(w, r)
		}),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	return a, nil
}

// Addr is the address the API listens on.
func (a *API) Addr() net.Addr { return a.ln.Addr() }

// Serve answers requests until ctx ends or Close is called; then it
// returns nil.
func (a *API) Serve(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { _ = a.Close() })
	defer stop()
	err := a.srv.Serve(a.ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return fmt.Errorf("serve approval API: %w", err)
}

// Close stops the server, waiting briefly for requests in flight. It is
// safe to call twice.
func (a *API) Close() error {
	a.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err := a.srv.Shutdown(ctx)
		if err != nil {
			err = errors.Join(err, a.srv.Close())
		}
		a.closeErr = err
	})
	return a.closeErr
}

// bearerViewer verifies the Authorization: Bearer token.
func bearerViewer(r *http.Request, v TokenVerifier) (Viewer, *authError) {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return Viewer{}, &authError{http.StatusUnauthorized, control.CodeNoToken, "a bearer token is required (Authorization: Bearer <OIDC token>)"}
	}
	id, err := v.Verify(r.Context(), tok)
	if err != nil {
		var te *identity.TokenError
		switch {
		case errors.As(err, &te) && te.Cause == identity.CauseUnavailable:
			return Viewer{}, &authError{http.StatusServiceUnavailable, string(te.Cause), err.Error()}
		case errors.As(err, &te):
			return Viewer{}, &authError{http.StatusUnauthorized, string(te.Cause), err.Error()}
		}
		return Viewer{}, &authError{http.StatusUnauthorized, CodeUnauthenticated, err.Error()}
	}
	return Viewer{Actor: &Actor{Issuer: id.Issuer, Subject: id.Subject, Email: id.Email, Groups: id.Groups, Via: ViaAPI}}, nil
}
