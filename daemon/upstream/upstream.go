package upstream

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
	"golang.org/x/sys/unix"
)

// Config says how to reach one upstream server.
type Config struct {
	// Address is host:port.
	Address string
	// SSLMode is a libpq sslmode; SSLRootCert the CA bundle for verify-*.
	SSLMode     string
	SSLRootCert string
	// SSLCert and SSLKey are an optional client certificate.
	SSLCert, SSLKey string
	// Mark is set as SO_MARK on every upstream socket (0: none).
	Mark uint32
	// ConnectTimeout bounds dial and handshake.
	ConnectTimeout time.Duration
}

// Dialer connects to one upstream server.
type Dialer struct {
	cfg    Config
	host   string
	port   string
	dialer net.Dialer
}

// New returns a Dialer for cfg.
func New(cfg Config) (*Dialer, error) {
	host, port, err := net.SplitHostPort(cfg.Address)
	if err != nil {
		return nil, fmt.Errorf("upstream address: %w", err)
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 10 * time.Second
	}
	d := &Dialer{cfg: cfg, host: host, port: port}
	d.dialer = net.Dialer{Timeout: cfg.ConnectTimeout, KeepAlive: 30 * time.Second}
	if cfg.Mark != 0 {
		d.dialer.Control = MarkControl(cfg.Mark)
	}
	return d, nil
}

// MarkControl returns a net.Dialer Control function that sets SO_MARK on the
// socket before it connects. Setting a mark needs CAP_NET_ADMIN, which is
// why the kernel hooks can trust it.
func MarkControl(mark uint32) func(network, address string, c syscall.RawConn) error {
	return func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_MARK, int(mark))
		})
		if err != nil {
			return err
		}
		if serr != nil {
			return fmt.Errorf("set SO_MARK: %w", serr)
		}
		return nil
	}
}

// Params are passed to the server at startup. Only these client startup
// parameters are forwarded; anything else (options, search_path, role, ...)
// could change what statements mean behind the policy's back.
var forwardable = map[string]bool{
	"application_name":                    true,
	"client_encoding":                     true,
	"datestyle":                           true,
	"timezone":                            true,
	"intervalstyle":                       true,
	"extra_float_digits":                  true,
	"standard_conforming_strings":         true,
	"lc_messages":                         true,
	"lc_monetary":                         true,
	"lc_numeric":                          true,
	"lc_time":                             true,
	"bytea_output":                        true,
	"statement_timeout":                   true,
	"lock_timeout":                        true,
	"idle_in_transaction_session_timeout": true,
}

// Forwardable reports whether a client startup parameter is passed upstream.
func Forwardable(name string) bool { return forwardable[strings.ToLower(name)] }

// Open opens an authenticated upstream connection as user. params are
// client startup parameters; only Forwardable ones are passed on.
func (d *Dialer) Open(ctx context.Context, user, password, database string, params map[string]string) (*pgconn.PgConn, error) {
	cs := fmt.Sprintf("host=%s port=%s user=%s dbname=%s sslmode=%s",
		quote(d.host), quote(d.port), quote(user), quote(database), quote(d.cfg.SSLMode))
	if d.cfg.SSLRootCert != "" {
		cs += " sslrootcert=" + quote(d.cfg.SSLRootCert)
	}
	if d.cfg.SSLCert != "" {
		cs += " sslcert=" + quote(d.cfg.SSLCert) + " sslkey=" + quote(d.cfg.SSLKey)
	}
	cfg, err := pgconn.ParseConfig(cs)
	if err != nil {
		return nil, fmt.Errorf("upstream config: %w", err)
	}
	cfg.Password = password
	cfg.ConnectTimeout = d.cfg.ConnectTimeout
	cfg.DialFunc = d.dialer.DialContext
	cfg.RuntimeParams = map[string]string{}
	for k, v := range params {
		if Forwardable(k) {
			cfg.RuntimeParams[k] = v
		}
	}
	ctx, cancel := context.WithTimeout(ctx, d.cfg.ConnectTimeout)
	defer cancel()
	return pgconn.ConnectConfig(ctx, cfg)
}

// Connect opens an upstream connection (see Open) and hijacks it from
// pgconn: the relay speaks the protocol from here on.
func (d *Dialer) Connect(ctx context.Context, user, password, database string, params map[string]string) (*pgconn.HijackedConn, error) {
	conn, err := d.Open(ctx, user, password, database, params)
	if err != nil {
		return nil, err
	}
	h, err := conn.Hijack()
	if err != nil {
		conn.Close(context.Background())
		return nil, fmt.Errorf("hijack upstream connection: %w", err)
	}
	return h, nil
}

// Cancel asks the server to cancel the query running on backend pid.
func (d *Dialer) Cancel(ctx context.Context, pid uint32, secret []byte) error {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.ConnectTimeout)
	defer cancel()
	c, err := d.dialer.DialContext(ctx, "tcp", net.JoinHostPort(d.host, d.port))
	if err != nil {
		return fmt.Errorf("dial for cancel: %w", err)
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	buf, err := (&pgproto3.CancelRequest{ProcessID: pid, SecretKey: secret}).Encode(nil)
	if err != nil {
		return err
	}
	if _, err := c.Write(buf); err != nil {
		return fmt.Errorf("send cancel: %w", err)
	}
	// The server closes the connection when done; wait for that so the
	// cancel has been delivered before we return.
	var one [1]byte
	if _, err := c.Read(one[:]); err != nil && !errors.Is(err, net.ErrClosed) {
		return nil
	}
	return nil
}

// quote quotes a libpq connection string value.
func quote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}
