package control

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"
)

// SocketEnv names the environment variable that overrides the socket path.
const SocketEnv = "INTERLOCK_SOCKET"

// APIError is an error answered by the daemon.
type APIError struct {
	Status int
	ErrorResponse
}

func (e *APIError) Error() string { return e.ErrorResponse.Error }

// ErrNoSession is returned by Client.Session when the caller is not logged in.
var ErrNoSession = errors.New("not logged in")

// Client talks to interlockd's control socket.
type Client struct {
	socket string
	http   *http.Client
}

// NewClient returns a client of the daemon listening on socketPath.
func NewClient(socketPath string) *Client {
	return &Client{socket: socketPath, http: HTTPClient(socketPath, time.Minute)}
}

// HTTPClient is an HTTP client whose every request goes to the control
// socket at socketPath (any host name in the URL), with the given overall
// timeout (0: none, for streams).
func HTTPClient(socketPath string, timeout time.Duration) *http.Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socketPath)
		},
		MaxIdleConns:    1,
		IdleConnTimeout: 10 * time.Second,
	}
	return &http.Client{Transport: tr, Timeout: timeout}
}

// Close releases idle connections.
func (c *Client) Close() error {
	c.http.CloseIdleConnections()
	return nil
}

// Config returns the daemon's identity provider settings.
func (c *Client) Config(ctx context.Context) (*ConfigResponse, error) {
	var out ConfigResponse
	return &out, c.do(ctx, http.MethodGet, "/v1/config", nil, &out)
}

// Login hands tokens to the daemon, which binds them to the caller's uid.
func (c *Client) Login(ctx context.Context, req LoginRequest) (*SessionResponse, error) {
	var out SessionResponse
	return &out, c.do(ctx, http.MethodPost, "/v1/login", req, &out)
}

// Session returns the caller's session, or ErrNoSession.
func (c *Client) Session(ctx context.Context) (*SessionResponse, error) {
	var out SessionResponse
	err := c.do(ctx, http.MethodGet, "/v1/session", nil, &out)
	var ae *APIError
	if errors.As(err, &ae) && ae.Code == CodeNoSession {
		return nil, ErrNoSession
	}
	return &out, err
}

// Logout ends the caller's session; ended is false if there was none.
func (c *Client) Logout(ctx context.Context) (ended bool, err error) {
	var out LogoutResponse
	err = c.do(ctx, http.MethodDelete, "/v1/session", nil, &out)
	return out.Ended, err
}

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://interlockd"+path, body)
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // drop the made-up URL
		}
		var oe *net.OpError
		if errors.As(err, &oe) && oe.Op == "dial" {
			err = oe.Err // drop the repeated socket path
		}
		return fmt.Errorf("reach interlockd at %s: %w (is it running? the socket is chosen with --socket or %s)", c.socket, err, SocketEnv)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("read interlockd response: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		ae := &APIError{Status: resp.StatusCode}
		if json.Unmarshal(b, &ae.ErrorResponse) != nil || ae.ErrorResponse.Error == "" {
			ae.ErrorResponse = ErrorResponse{Error: fmt.Sprintf("interlockd answered %s", resp.Status), Code: CodeInternal}
		}
		return ae
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("decode interlockd response: %w", err)
	}
	return nil
}
