package alerts

import (
	"context"
	"errors"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/interlock-dev/interlock/testenv"
)

// serveUnix serves h at Path on a unix socket, as the control server does
// (with its write timeout), and returns a client of it.
func serveUnix(t *testing.T, h http.Handler, writeTimeout time.Duration) *Client {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "control.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET "+Path, h)
	srv := &http.Server{Handler: mux, WriteTimeout: writeTimeout}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	c := NewClient(sock)
	t.Cleanup(func() { c.Close() })
	return c
}

type credsKey struct{}

// withCreds is a stand-in for the control server putting the caller's
// credentials into the request.
func withCreds(c Creds, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), credsKey{}, c)))
	})
}

func credsOf(r *http.Request) (Creds, bool) {
	c, ok := r.Context().Value(credsKey{}).(Creds)
	return c, ok
}

func TestHandlerAuthorization(t *testing.T) {
	const alertsGroup = 990
	p := newPipeline(t, Config{})
	p.Submit(attempt(1, "/a"))
	delivered(t, p, 1)
	auth := RootOrGroup([]uint32{alertsGroup}, credsOf)
	tests := []struct {
		name  string
		creds Creds
		ok    bool
	}{
		{"root", Creds{UID: 0, GID: 0}, true},
		{"primary group", Creds{UID: 1000, GID: alertsGroup}, true},
		{"supplementary group", Creds{UID: 1000, GID: 1000, Groups: []uint32{27, alertsGroup}}, true},
		{"other user", Creds{UID: 1000, GID: 1000, Groups: []uint32{27}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := serveUnix(t, withCreds(tt.creds, p.Handler(auth)), 0)
			resp, err := c.List(context.Background(), 0)
			if tt.ok {
				if err != nil || len(resp.Alerts) != 1 || resp.Stats.Alerts != 1 {
					t.Fatalf("List = %+v, %v; want the alert", resp, err)
				}
				return
			}
			var ae *APIError
			if !errors.As(err, &ae) || ae.Status != http.StatusForbidden || ae.Code != "forbidden" {
				t.Fatalf("List as %+v: %v, want 403 forbidden", tt.creds, err)
			}
		})
	}
	t.Run("no authorizer refuses", func(t *testing.T) {
		c := serveUnix(t, p.Handler(nil), 0)
		var ae *APIError
		if _, err := c.List(context.Background(), 0); !errors.As(err, &ae) || ae.Status != http.StatusForbidden {
			t.Fatalf("List without an authorizer: %v, want 403", err)
		}
	})
}

func TestHandlerList(t *testing.T) {
	p := newPipeline(t, Config{Recent: 5})
	for i := range 8 {
		p.Submit(attempt(uint32(i), "/a"))
	}
	testenv.WaitFor(t, waitFor, "8 alerts", func() bool { return p.Stats().Alerts == 8 })
	c := serveUnix(t, p.Handler(func(*http.Request) error { return nil }), 0)
	for _, tt := range []struct{ limit, want int }{{0, 5}, {2, 2}, {50, 5}} {
		resp, err := c.List(context.Background(), tt.limit)
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Alerts) != tt.want || resp.Alerts[len(resp.Alerts)-1].Seq != 8 {
			t.Errorf("limit %d: %d alerts ending at %d, want %d ending at 8", tt.limit, len(resp.Alerts), resp.Alerts[len(resp.Alerts)-1].Seq, tt.want)
		}
	}
	// Wrong method and bad parameters.
	srv := p.Handler(func(*http.Request) error { return nil })
	for _, r := range []*http.Request{
		mustRequest(t, http.MethodPost, Path),
		mustRequest(t, http.MethodGet, Path+"?limit=-1"),
	} {
		w := &recorder{header: http.Header{}}
		srv.ServeHTTP(w, r)
		if w.status != http.StatusMethodNotAllowed && w.status != http.StatusBadRequest {
			t.Errorf("%s %s: status %d", r.Method, r.URL, w.status)
		}
	}
}

// Follow sends the backlog, then each new alert, past the server's write
// timeout, until the client cancels.
func TestHandlerFollow(t *testing.T) {
	p := newPipeline(t, Config{RateLimit: 1e6, Burst: 1e6, DedupWindow: time.Nanosecond})
	for i := range 3 {
		p.Submit(attempt(uint32(i), "/a"))
	}
	testenv.WaitFor(t, waitFor, "3 alerts", func() bool { return p.Stats().Alerts == 3 })
	const writeTimeout = 100 * time.Millisecond
	c := serveUnix(t, p.Handler(func(*http.Request) error { return nil }), writeTimeout)

	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan Alert, 100)
	done := make(chan error, 1)
	go func() { done <- c.Follow(ctx, 2, func(a Alert) error { got <- a; return nil }) }()
	next := func() Alert {
		select {
		case a := <-got:
			return a
		case err := <-done:
			t.Fatalf("Follow ended: %v", err)
		case <-time.After(waitFor):
			t.Fatal("no alert streamed")
		}
		return Alert{}
	}
	if a, b := next(), next(); a.Seq != 2 || b.Seq != 3 {
		t.Fatalf("backlog seqs %d, %d; want 2, 3", a.Seq, b.Seq)
	}
	start := time.Now()
	for seq := uint64(4); time.Since(start) < 3*writeTimeout; seq++ {
		p.Submit(attempt(1, "/a"))
		if a := next(); a.Seq != seq {
			t.Fatalf("streamed seq %d, want %d", a.Seq, seq)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Follow after cancel: %v", err)
		}
	case <-time.After(waitFor):
		t.Fatal("Follow did not return after cancel")
	}
}

// When the daemon closes, followers see the stream end.
func TestHandlerFollowEndsOnClose(t *testing.T) {
	p, err := New(context.Background(), Config{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	c := serveUnix(t, p.Handler(func(*http.Request) error { return nil }), 0)
	started := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- c.Follow(context.Background(), 0, func(Alert) error { close(started); return nil })
	}()
	p.Submit(attempt(1, "/a"))
	<-started
	p.Close()
	select {
	case err := <-done:
		if !errors.Is(err, ErrStreamEnded) {
			t.Errorf("Follow: %v, want ErrStreamEnded", err)
		}
	case <-time.After(waitFor):
		t.Fatal("Follow did not end")
	}
}

func mustRequest(t *testing.T, method, target string) *http.Request {
	t.Helper()
	r, err := http.NewRequest(method, target, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// recorder is a minimal http.ResponseWriter.
type recorder struct {
	header http.Header
	status int
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) Write(b []byte) (int, error) { return len(b), nil }
func (r *recorder) WriteHeader(s int)           { r.status = s }
