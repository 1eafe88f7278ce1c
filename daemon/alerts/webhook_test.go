package alerts

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/interlock-dev/interlock/testenv"
)

// receiver is a webhook endpoint that records what it gets and answers
// with the status its script says.
type receiver struct {
	mu       sync.Mutex
	alerts   []Alert
	attempts []time.Time
	status   func(n int) int // by attempt number, from 1
	block    chan struct{}   // if set, requests wait for it to close
	srv      *httptest.Server
}

func newReceiver(t *testing.T, status func(n int) int) *receiver {
	r := &receiver{status: status}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if r.block != nil {
			select {
			case <-r.block:
			case <-req.Context().Done():
				return
			}
		}
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.attempts = append(r.attempts, time.Now())
		n := len(r.attempts)
		code := http.StatusNoContent
		if r.status != nil {
			code = r.status(n)
		}
		if code < 300 {
			var a Alert
			if err := json.Unmarshal(body, &a); err != nil || req.Header.Get("Content-Type") != "application/json" || req.Header.Get("X-Token") != "secret" {
				code = http.StatusBadRequest
			} else {
				r.alerts = append(r.alerts, a)
			}
		}
		r.mu.Unlock()
		w.WriteHeader(code)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) got() []Alert {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Alert(nil), r.alerts...)
}

func (r *receiver) webhook(cfg WebhookConfig) WebhookConfig {
	cfg.URL = r.srv.URL
	cfg.Headers = map[string]string{"X-Token": "secret"}
	return cfg
}

// Every alert arrives, in order, as JSON.
func TestWebhookDelivers(t *testing.T) {
	rcv := newReceiver(t, nil)
	p := newPipeline(t, Config{Webhook: rcv.webhook(WebhookConfig{})})
	for i := range 5 {
		p.Submit(attempt(uint32(i), "/a"))
	}
	testenv.WaitFor(t, waitFor, "5 alerts delivered", func() bool { return len(rcv.got()) == 5 && p.Stats().WebhookDelivered == 5 })
	for i, a := range rcv.got() {
		if a.Seq != uint64(i+1) || *a.UID != uint32(i) || a.Kind != KindRawSocket {
			t.Errorf("alert %d = %+v, want seq %d uid %d", i, a, i+1, i)
		}
	}
	if st := p.Stats(); st.WebhookDelivered != 5 || st.WebhookRetries != 0 {
		t.Errorf("Stats = %+v", st)
	}
}

// A failing receiver gets retries with growing gaps; once it recovers,
// everything queued arrives: nothing lost while the queue had room.
func TestWebhookRetriesWithBackoff(t *testing.T) {
	const failures = 4
	rcv := newReceiver(t, func(n int) int {
		if n <= failures {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	minB, maxB := 20*time.Millisecond, 200*time.Millisecond
	p := newPipeline(t, Config{Webhook: rcv.webhook(WebhookConfig{MinBackoff: minB, MaxBackoff: maxB})})
	for i := range 3 {
		p.Submit(attempt(uint32(i), "/a"))
	}
	testenv.WaitFor(t, waitFor, "3 alerts delivered", func() bool { return len(rcv.got()) == 3 && p.Stats().WebhookDelivered == 3 })
	rcv.mu.Lock()
	at := append([]time.Time(nil), rcv.attempts...)
	rcv.mu.Unlock()
	if len(at) != failures+3 {
		t.Fatalf("%d requests, want %d failures then 3 deliveries", len(at), failures)
	}
	// Exponential backoff (factor 1.5, jitter +-50%): each gap is at least
	// half the nominal interval.
	nominal := float64(minB)
	for i := 1; i <= failures; i++ {
		gap := at[i].Sub(at[i-1])
		if low := time.Duration(nominal / 2); gap < low {
			t.Errorf("retry %d after %s, want at least %s", i, gap, low)
		}
		nominal = min(nominal*1.5, float64(maxB))
	}
	if st := p.Stats(); st.WebhookRetries != failures || st.WebhookDelivered != 3 || st.WebhookFailed != 0 {
		t.Errorf("Stats = %+v, want %d retries, 3 delivered", st, failures)
	}
}

// A receiver that refuses an alert for good (4xx) is not retried.
func TestWebhookPermanentRefusal(t *testing.T) {
	rcv := newReceiver(t, func(n int) int {
		if n == 1 {
			return http.StatusUnprocessableEntity
		}
		return http.StatusOK
	})
	p := newPipeline(t, Config{Webhook: rcv.webhook(WebhookConfig{MinBackoff: time.Millisecond})})
	p.Submit(attempt(1, "/a"))
	p.Submit(attempt(2, "/a"))
	testenv.WaitFor(t, waitFor, "second alert delivered", func() bool { return len(rcv.got()) == 1 && p.Stats().WebhookDelivered == 1 })
	if st := p.Stats(); st.WebhookFailed != 1 || st.WebhookRetries != 0 || st.WebhookDelivered != 1 {
		t.Errorf("Stats = %+v, want 1 failed without retries and 1 delivered", st)
	}
}

// A receiver that hangs does not stall the daemon: Submit returns at once,
// the other sinks keep up, the queue holds what it can and counts the
// rest; when the receiver comes back the queued alerts arrive.
func TestWebhookSlowReceiverAndFullQueue(t *testing.T) {
	const queue, n = 5, 20
	rcv := newReceiver(t, nil)
	rcv.block = make(chan struct{})
	p := newPipeline(t, Config{Webhook: rcv.webhook(WebhookConfig{QueueSize: queue, Timeout: waitFor})})
	start := time.Now()
	for i := range n {
		p.Submit(attempt(uint32(i), "/a"))
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Submit took %s with a hung receiver", d)
	}
	delivered(t, p, n) // the log, audit and recent list are not held up
	testenv.WaitFor(t, waitFor, "queue full", func() bool { return p.Stats().WebhookDropped >= n-queue-1 })
	close(rcv.block)
	dropped := p.Stats().WebhookDropped
	testenv.WaitFor(t, waitFor, "queued alerts delivered", func() bool {
		return uint64(len(rcv.got()))+dropped == n && p.Stats().WebhookDelivered+dropped == n
	})
	if dropped > n-queue {
		t.Errorf("%d dropped, want at most %d (queue %d, one in flight)", dropped, n-queue, queue)
	}
	// What was delivered arrived in order, the first one included.
	got := rcv.got()
	for i, a := range got {
		if i == 0 && a.Seq != 1 || i > 0 && a.Seq <= got[i-1].Seq {
			t.Errorf("delivered alert %d has seq %d after %v", i, a.Seq, got[:i])
		}
	}
}

// Close does not wait for a hung receiver longer than CloseTimeout.
func TestWebhookCloseBounded(t *testing.T) {
	rcv := newReceiver(t, nil)
	rcv.block = make(chan struct{})
	defer close(rcv.block)
	p, err := New(t.Context(), Config{Logger: quietLogger(), CloseTimeout: 100 * time.Millisecond, Webhook: rcv.webhook(WebhookConfig{Timeout: waitFor})})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		p.Submit(attempt(uint32(i), "/a"))
	}
	delivered(t, p, 3)
	start := time.Now()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Close took %s", d)
	}
	if st := p.Stats(); st.WebhookDropped != 3 {
		t.Errorf("Stats = %+v, want the 3 undelivered counted as dropped", st)
	}
}
