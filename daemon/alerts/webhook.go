package alerts

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/cenkalti/backoff/v5"
)

// webhook POSTs alerts from a bounded queue, one at a time and in order,
// retrying each with exponential backoff.
type webhook struct {
	cfg    WebhookConfig
	log    *slog.Logger
	c      *counters
	m      *metrics
	client *http.Client
	queue  chan Alert

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
}

func newWebhook(cfg WebhookConfig, log *slog.Logger, c *counters) *webhook {
	ctx, cancel := context.WithCancel(context.Background())
	return &webhook{
		cfg:    cfg,
		log:    log.With(logKeyURL, cfg.URL),
		c:      c,
		client: &http.Client{Timeout: cfg.Timeout},
		queue:  make(chan Alert, cfg.QueueSize),
		ctx:    ctx,
		cancel: cancel,
		done:   make(chan struct{}),
	}
}

func (w *webhook) start() { go w.run() }

// enqueue queues a without waiting; a full queue drops it and counts it.
func (w *webhook) enqueue(a Alert) {
	select {
	case w.queue <- a:
	default:
		w.c.hookDropped.Add(1)
		w.m.dropped.Inc()
		w.log.Warn("webhook queue full, alert dropped", logKeySeq, a.Seq)
	}
}

func (w *webhook) run() {
	defer close(w.done)
	for a := range w.queue {
		if w.ctx.Err() != nil {
			// Closing: what could not be sent in time is dropped.
			w.c.hookDropped.Add(1)
			w.m.dropped.Inc()
			continue
		}
		if err := w.deliver(a); err != nil {
			if w.ctx.Err() != nil {
				w.c.hookDropped.Add(1)
				w.m.dropped.Inc()
				continue
			}
			w.c.hookFailed.Add(1)
			w.m.deliveries.WithLabelValues("failed").Inc()
			w.log.Error("webhook gave up on an alert", logKeySeq, a.Seq, logKeyError, err)
			continue
		}
		w.c.hookDelivered.Add(1)
		w.m.deliveries.WithLabelValues("delivered").Inc()
	}
}

// deliver POSTs a until it is accepted (2xx), the receiver refuses it for
// good (4xx other than 408, 425, 429), MaxRetryTime passes or the webhook
// closes.
func (w *webhook) deliver(a Alert) error {
	body, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("encode alert: %w", err)
	}
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = w.cfg.MinBackoff
	b.MaxInterval = w.cfg.MaxBackoff
	attempt := 0
	_, err = backoff.Retry(w.ctx, func() (struct{}, error) {
		if attempt++; attempt > 1 {
			w.c.hookRetries.Add(1)
			w.m.retries.Inc()
		}
		return struct{}{}, w.post(body)
	}, backoff.WithBackOff(b), backoff.WithMaxElapsedTime(w.cfg.MaxRetryTime),
		backoff.WithNotify(func(err error, next time.Duration) {
			w.log.Warn("webhook delivery failed, retrying", logKeySeq, a.Seq, "retry_in", next, logKeyError, err)
		}))
	return err
}

func (w *webhook) post(body []byte) error {
	req, err := http.NewRequestWithContext(w.ctx, http.MethodPost, w.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return backoff.Permanent(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "interlockd")
	for k, v := range w.cfg.Headers {
		req.Header.Set(k, v)
	}
	resp, err := w.client.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		return nil
	case code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable:
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
			return backoff.RetryAfter(s)
		}
		return fmt.Errorf("webhook answered %s", resp.Status)
	case code >= 400 && code < 500 && code != http.StatusRequestTimeout && code != http.StatusTooEarly:
		return backoff.Permanent(fmt.Errorf("webhook refused the alert: %s", resp.Status))
	default:
		return fmt.Errorf("webhook answered %s", resp.Status)
	}
}

// close stops taking alerts, lets the worker deliver what is queued for up
// to timeout, then cancels it. Alerts not delivered by then are counted as
// dropped.
func (w *webhook) close(timeout time.Duration) error {
	close(w.queue)
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-w.done:
	case <-t.C:
		w.log.Warn("webhook still busy at shutdown, dropping what is queued", "queued", len(w.queue))
	}
	w.cancel()
	<-w.done
	return nil
}
