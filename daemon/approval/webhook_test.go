package approval

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/interlock-dev/interlock/testenv"
)

// TestWebhookRetries: a receiver failing twice gets the event on the
// third attempt, signed.
func TestWebhookRetries(t *testing.T) {
	var attempts atomic.Int32
	type delivery struct {
		body   []byte
		header http.Header
	}
	got := make(chan delivery, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if attempts.Add(1) <= 2 {
			http.Error(w, "try later", http.StatusServiceUnavailable)
			return
		}
		got <- delivery{b, r.Header.Clone()}
	}))
	defer srv.Close()
	s := newService(t, mustLocal(t), newTrail(t), func(c *Config) {
		c.Webhook = &WebhookConfig{URL: srv.URL, Secret: "s3cret"}
	})
	r := mustRequest(t, s, deleteReq("5"))
	var d delivery
	select {
	case d = <-got:
	case <-time.After(30 * time.Second):
		t.Fatalf("no delivery; %d attempts", attempts.Load())
	}
	var ev WebhookEvent
	if err := json.Unmarshal(d.body, &ev); err != nil {
		t.Fatalf("body %s: %v", d.body, err)
	}
	if ev.Event != EventRequestCreated || ev.Request.ID != r.ID || ev.Request.Statement != r.Statement ||
		ev.ApproveCommand != "interlock approve "+r.ID || ev.Approve != "/v1/requests/"+r.ID+"/approve" {
		t.Errorf("event %+v", ev)
	}
	m := hmac.New(sha256.New, []byte("s3cret"))
	m.Write(d.body)
	if want := "sha256=" + hex.EncodeToString(m.Sum(nil)); d.header.Get(HeaderSignature) != want {
		t.Errorf("signature %q, want %q", d.header.Get(HeaderSignature), want)
	}
	if d.header.Get(HeaderDelivery) != r.ID || d.header.Get(HeaderEvent) != EventRequestCreated {
		t.Errorf("headers %v", d.header)
	}
	testenv.WaitFor(t, 5*time.Second, "the delivery to be counted", func() bool { return s.WebhookStats().Delivered == 1 })
	if n := attempts.Load(); n != 3 {
		t.Errorf("%d attempts, want 3", n)
	}
}

// TestWebhookSlowReceiver: a receiver that hangs never delays Request;
// past the queue bound notifications are dropped and counted.
func TestWebhookSlowReceiver(t *testing.T) {
	release := make(chan struct{})
	var releaseOnce sync.Once
	var received atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
		received.Add(1)
	}))
	defer srv.Close()
	defer releaseOnce.Do(func() { close(release) })
	s := newService(t, mustLocal(t), newTrail(t), func(c *Config) {
		c.Webhook = &WebhookConfig{URL: srv.URL, QueueSize: 2, Timeout: time.Minute}
	})
	const n = 10
	for i := range n {
		start := time.Now()
		mustRequest(t, s, deleteReq(string(rune('0'+i))))
		if d := time.Since(start); d > 500*time.Millisecond {
			t.Errorf("request %d took %s with a hanging webhook", i, d)
		}
	}
	// One in flight, two queued, the rest dropped.
	testenv.WaitFor(t, 5*time.Second, "drops to be counted", func() bool { return s.WebhookStats().Dropped >= n-3 })
	if st := s.WebhookStats(); st.Dropped > n-2 || st.Delivered != 0 {
		t.Errorf("stats %+v with a hanging receiver", st)
	}
	releaseOnce.Do(func() { close(release) })
	testenv.WaitFor(t, 10*time.Second, "the queued notifications", func() bool {
		st := s.WebhookStats()
		return st.Delivered+st.Dropped == n
	})
	if got := received.Load(); got != int32(n)-int32(s.WebhookStats().Dropped) {
		t.Errorf("receiver got %d", got)
	}
}

// TestWebhookPermanentFailure: a 4xx is not retried.
func TestWebhookPermanentFailure(t *testing.T) {
	var attempts atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		attempts.Add(1)
		http.Error(w, "no such hook", http.StatusNotFound)
	}))
	defer srv.Close()
	s := newService(t, mustLocal(t), newTrail(t), func(c *Config) { c.Webhook = &WebhookConfig{URL: srv.URL} })
	mustRequest(t, s, deleteReq("1"))
	testenv.WaitFor(t, 10*time.Second, "the failure to be counted", func() bool { return s.WebhookStats().Failed == 1 })
	if n := attempts.Load(); n != 1 {
		t.Errorf("%d attempts at a 404, want 1", n)
	}
	if err := (&WebhookConfig{URL: "ftp://x"}).Validate(); err == nil {
		t.Error("ftp URL accepted")
	}
}
