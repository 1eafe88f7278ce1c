package approval

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
	"strings"
	"time"

	"github.com/interlock-dev/interlock/daemon/control"
)

// Client calls the request routes, over the control socket (the CLI) or
// the HTTP API with a bearer token (integrations, tests). Errors answered
// by the daemon are *control.APIError.
type Client struct {
	base  string
	where string
	hint  string
	token string
	http  *http.Client
}

// NewControlClient talks to interlockd's control socket.
func NewControlClient(socketPath string) *Client {
	return &Client{
		base:  "http://interlockd",
		where: fmt.Sprintf("interlockd at %s", socketPath),
		hint:  " (is it running? the socket is chosen with --socket or " + control.SocketEnv + ")",
		http:  control.HTTPClient(socketPath, time.Minute),
	}
}

// NewAPIClient talks to the HTTP API at baseURL ("https://host:port")
// with a bearer token; hc may be nil.
func NewAPIClient(baseURL, token string, hc *http.Client) *Client {
	if hc == nil {
		hc = &http.Client{Timeout: time.Minute}
	}
	return &Client{base: strings.TrimSuffix(baseURL, "/"), where: baseURL, token: token, http: hc}
}

// Close releases idle connections.
func (c *Client) Close() error {
	c.http.CloseIdleConnections()
	return nil
}

// List returns the open requests the caller may see, or all of them.
func (c *Client) List(ctx context.Context, all bool) ([]*Request, error) {
	path := "/v1/requests"
	if all {
		path += "?all=1"
	}
	var out ListResponse
	if err := c.do(ctx, http.MethodGet, path, nil, &out); err != nil {
		return nil, err
	}
	return out.Requests, nil
}

// Get returns one request.
func (c *Client) Get(ctx context.Context, id string) (*Request, error) {
	var out Request
	return &out, c.do(ctx, http.MethodGet, "/v1/requests/"+url.PathEscape(id), nil, &out)
}

// Approve approves a request as the caller.
func (c *Client) Approve(ctx context.Context, id, comment string) (*Request, error) {
	var out Request
	return &out, c.do(ctx, http.MethodPost, "/v1/requests/"+url.PathEscape(id)+"/approve", ApproveBody{Comment: comment}, &out)
}

// Reject rejects a request as the caller (withdraws it, for the requester).
func (c *Client) Reject(ctx context.Context, id, reason string) (*Request, error) {
	var out Request
	return &out, c.do(ctx, http.MethodPost, "/v1/requests/"+url.PathEscape(id)+"/reject", RejectBody{Reason: reason}, &out)
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
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		var oe *net.OpError
		if errors.As(err, &oe) && oe.Op == "dial" {
			err = oe.Err
		}
		return fmt.Errorf("reach %s: %w%s", c.where, err, c.hint)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("read interlockd response: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		ae := &control.APIError{Status: resp.StatusCode}
		if json.Unmarshal(b, &ae.ErrorResponse) != nil || ae.ErrorResponse.Error == "" {
			ae.ErrorResponse = control.ErrorResponse{Error: fmt.Sprintf("interlockd answered %s", resp.Status), Code: control.CodeInternal}
		}
		return ae
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("decode interlockd response: %w", err)
	}
	return nil
}
