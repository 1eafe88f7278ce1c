package control

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/interlock-dev/interlock/daemon/hostsession"
	"github.com/interlock-dev/interlock/daemon/identity"
)

// DefaultSocketPath is where interlockd listens and the CLI connects.
const DefaultSocketPath = "/run/interlock/interlockd.sock"

// Defaults of the connection bounds.
const (
	DefaultMaxConns       = 64
	DefaultMaxConnsPerUID = 8
)

// Socket permissions: any user may connect and log in for themselves,
// since the daemon takes their uid from the kernel.
const (
	socketMode    fs.FileMode = 0o666
	socketDirMode fs.FileMode = 0o755
)

// Timeouts of a control connection.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 10 * time.Second
	writeTimeout      = 30 * time.Second // a login may fetch the issuer's keys
	idleTimeout       = 60 * time.Second
	maxHeaderBytes    = 16 << 10
	shutdownTimeout   = 5 * time.Second
)

// Sessions is what the server needs of the host session store;
// *hostsession.Store implements it.
type Sessions interface {
	Login(ctx context.Context, uid uint32, tok hostsession.Tokens) (*identity.Identity, error)
	Lookup(uid uint32) (*hostsession.Session, bool)
	Logout(uid uint32) bool
}

// Config configures a Server.
type Config struct {
	// SocketPath is the unix socket. Default DefaultSocketPath. Its
	// directory is created 0755 when missing.
	SocketPath string
	// Store holds the host sessions. Required.
	Store Sessions
	// Issuer, ClientID and Audience are returned by GET /v1/config so that
	// `interlock login` needs no flags.
	Issuer   string
	ClientID string
	Audience string
	// MaxBodyBytes bounds request bodies. Default DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// MaxConns bounds concurrent connections. Default DefaultMaxConns.
	MaxConns int
	// MaxConnsPerUID bounds concurrent connections of one uid; more are
	// closed at once. Default DefaultMaxConnsPerUID.
	MaxConnsPerUID int
	// Logger receives request errors. Default slog.Default().
	Logger *slog.Logger
}

// Validate checks the configuration and fills in defaults.
func (c *Config) Validate() error {
	if c.Store == nil {
		return errors.New("control: a session store is required")
	}
	if c.SocketPath == "" {
		c.SocketPath = DefaultSocketPath
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.MaxConns <= 0 {
		c.MaxConns = DefaultMaxConns
	}
	if c.MaxConnsPerUID <= 0 {
		c.MaxConnsPerUID = DefaultMaxConnsPerUID
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// Server is the control socket's HTTP server.
type Server struct {
	cfg Config
	log *slog.Logger
	mux *http.ServeMux
	ln  *credListener
	srv *http.Server

	closeOnce sync.Once
	closeErr  error
}

// New listens on the socket; Serve then answers requests.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger.With("component", "control", "socket", cfg.SocketPath)
	ln, err := listen(ctx, cfg.SocketPath)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: log, mux: http.NewServeMux(), ln: newCredListener(ln, cfg.MaxConns, cfg.MaxConnsPerUID, log)}
	s.srv = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ConnContext:       connContext,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	s.routes()
	return s, nil
}

// listen creates the socket directory when missing, removes a stale
// socket and listens with mode 0666.
func listen(ctx context.Context, path string) (net.Listener, error) {
	dir := filepath.Dir(path)
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, socketDirMode); err != nil {
			return nil, fmt.Errorf("create control socket directory: %w", err)
		}
		if err := os.Chmod(dir, socketDirMode); err != nil {
			return nil, fmt.Errorf("chmod control socket directory: %w", err)
		}
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != fs.ModeSocket {
			return nil, fmt.Errorf("control socket %s exists and is not a socket", path)
		}
		d := net.Dialer{Timeout: time.Second}
		if c, err := d.DialContext(ctx, "unix", path); err == nil {
			c.Close()
			return nil, fmt.Errorf("control socket %s is in use: is another interlockd running?", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("remove stale control socket: %w", err)
		}
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("listen on control socket: %w", err)
	}
	if err := os.Chmod(path, socketMode); err != nil {
		return nil, errors.Join(fmt.Errorf("chmod control socket: %w", err), ln.Close())
	}
	return ln, nil
}

// SocketPath is the path the server listens on.
func (s *Server) SocketPath() string { return s.cfg.SocketPath }

// Handle adds a route, with a net/http pattern such as
// "GET /v1/requests/{id}". Handlers learn the caller with PeerOf.
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// Serve answers requests until ctx ends or Close is called; then it
// returns nil.
func (s *Server) Serve(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { _ = s.Close() })
	defer stop()
	s.log.Info("control socket listening")
	err := s.srv.Serve(s.ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return fmt.Errorf("serve control socket: %w", err)
}

// Close stops the server, waiting briefly for requests in flight, and
// removes the socket. It is safe to call twice.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		err := s.srv.Shutdown(ctx)
		if err != nil {
			err = errors.Join(err, s.srv.Close())
		}
		s.closeErr = errors.Join(err, s.ln.Close())
	})
	return s.closeErr
}
