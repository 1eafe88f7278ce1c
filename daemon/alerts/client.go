package alerts

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/interlock-dev/interlock/daemon/control"
)

// Client reads alerts from interlockd's control socket.
type Client struct {
	http *http.Client
}

// APIError is an error answered by the daemon.
type APIError struct {
	Status int
	ErrorResponse
}

func (e *APIError) Error() string { return fmt.Sprintf("%s (%s)", e.ErrorResponse.Error, e.Code) }

// ErrStreamEnded means the daemon ended a follow stream (it is shutting
// down, or the client fell behind); reconnect to continue.
var ErrStreamEnded = errors.New("alerts: the daemon ended the stream")

// NewClient returns a client of the daemon's control socket.
func NewClient(socketPath string) *Client {
	// No overall timeout: --follow streams for as long as it is wanted.
	return &Client{http: control.HTTPClient(socketPath, 0)}
}

// Close releases idle connections.
func (c *Client) Close() error {
	c.http.CloseIdleConnections()
	return nil
}

// List returns the latest limit alerts (0: the daemon's default) and the
// pipeline's counters.
func (c *Client) List(ctx context.Context, limit int) (*ListResponse, error) {
	resp, err := c.get(ctx, false, limit)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out ListResponse
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, fmt.Errorf("decode alerts: %w", err)
	}
	return &out, nil
}

// Follow calls fn with the latest limit alerts (0: the daemon's default)
// and then each new one, until ctx ends (nil), fn fails (its error) or the
// daemon ends the stream (ErrStreamEnded).
func (c *Client) Follow(ctx context.Context, limit int, fn func(Alert) error) error {
	resp, err := c.get(ctx, true, limit)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		var a Alert
		if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
			return fmt.Errorf("decode alert: %w", err)
		}
		if err := fn(a); err != nil {
			return err
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	if err := sc.Err(); err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("read alert stream: %w", err)
	}
	return ErrStreamEnded
}

func (c *Client) get(ctx context.Context, follow bool, limit int) (*http.Response, error) {
	q := url.Values{}
	if follow {
		q.Set("follow", "1")
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	u := "http://interlockd" + Path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		ae := &APIError{Status: resp.StatusCode}
		if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&ae.ErrorResponse); err != nil || ae.ErrorResponse.Error == "" {
			ae.ErrorResponse = ErrorResponse{Error: resp.Status, Code: "http"}
		}
		return nil, ae
	}
	return resp, nil
}
