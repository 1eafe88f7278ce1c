package approval

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v5"
)

// Defaults of WebhookConfig.
const (
	DefaultWebhookTimeout    = 5 * time.Second
	DefaultWebhookMaxElapsed = 2 * time.Minute
	DefaultWebhookQueue      = 256
)

// Webhook headers.
const (
	// HeaderSignature carries "sha256=" and the hex HMAC-SHA256 of the body
	// under WebhookConfig.Secret.
	HeaderSignature = "X-Interlock-Signature"
	// HeaderEvent is the event name (EventRequestCreated).
	HeaderEvent = "X-Interlock-Event"
	// HeaderDelivery is the request id; retries repeat it, so receivers can
	// drop duplicates.
	HeaderDelivery = "X-Interlock-Delivery"
)

// EventRequestCreated is the only webhook event so far.
const EventRequestCreated = "approval_request.created"

// WebhookConfig configures the notification sent when a request is created.
type WebhookConfig struct {
	// URL receives a JSON POST (WebhookEvent). http or https.
	URL string
	// Secret, when set, signs each body (HeaderSignature).
	Secret string
	// Timeout bounds one attempt. Default 5 seconds.
	Timeout time.Duration
	// MaxElapsed bounds the retries of one notification (exponential
	// backoff from 500 ms). Default 2 minutes.
	MaxElapsed time.Duration
	// QueueSize bounds the notifications waiting for delivery; past it new
	// ones are dropped (and counted), never waited for. Default 256.
	QueueSize int
	// HTTPClient sends the requests; nil uses a plain client.
	HTTPClient *http.Client
}

// Validate checks c and fills in defaults.
func (c *WebhookConfig) Validate() error {
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("approval webhook: %q is not an http(s) URL", c.URL)
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultWebhookTimeout
	}
	if c.MaxElapsed <= 0 {
		c.MaxElapsed = DefaultWebhookMaxElapsed
	}
	if c.QueueSize <= 0 {
		c.QueueSize = DefaultWebhookQueue
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{}
	}
	return nil
}

// WebhookEvent is the body of a webhook POST.
type WebhookEvent struct {
	Event   string   `json:"event"`
	Request *Request `json:"request"`
	// ApproveCommand and RejectCommand are what an approver runs on a host.
	ApproveCommand string `json:"approve_command"`
	RejectCommand  string `json:"reject_command"`
	// Approve and Reject are the HTTP API paths (relative to api_listen).
	Approve string    `json:"approve_path"`
	Reject  string    `json:"reject_path"`
	SentAt  time.Time `json:"sent_at"`
}

// WebhookStats counts notifications.
type WebhookStats struct {
	Delivered, Failed, Dropped uint64
}

type webhook struct {
	cfg   WebhookConfig
	log   *slog.Logger
	queue chan *Request

	delivered, failed, dropped atomic.Uint64
}

func newWebhook(cfg WebhookConfig, log *slog.Logger) *webhook {
	return &webhook{cfg: cfg, log: log.With("webhook", cfg.URL), queue: make(chan *Request, cfg.QueueSize)}
}

// enqueue never blocks: a full queue drops the notification.
func (w *webhook) enqueue(r *Request) {
	select {
	case w.queue <- r.Clone():
	default:
		w.dropped.Add(1)
		w.log.Warn("approval webhook queue full; notification dropped", "request_id", r.ID)
	}
}

func (w *webhook) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case r := <-w.queue:
			if err := w.deliver(ctx, r); err != nil {
				if ctx.Err() != nil {
					return
				}
				w.failed.Add(1)
				w.log.Warn("approval webhook not delivered", "request_id", r.ID, "err", err)
				continue
			}
			w.delivered.Add(1)
		}
	}
}

func (w *webhook) deliver(ctx context.Context, r *Request) error {
	body, err := json.Marshal(WebhookEvent{
		Event: EventRequestCreated, Request: r,
		ApproveCommand: "interlock approve " + r.ID, RejectCommand: "interlock reject " + r.ID + " --reason TEXT",
		Approve: "/v1/requests/" + r.ID + "/approve", Reject: "/v1/requests/" + r.ID + "/reject",
		SentAt: time.Now().UTC(),
	})
	if err != nil {
		return fmt.Errorf("encode webhook event: %w", err)
	}
	var sig string
	if w.cfg.Secret != "" {
		m := hmac.New(sha256.New, []byte(w.cfg.Secret))
		m.Write(body)
		sig = "sha256=" + hex.EncodeToString(m.Sum(nil))
	}
	b := backoff.NewExponentialBackOff()
	b.InitialInterval, b.MaxInterval = 500*time.Millisecond, 30*time.Second
	_, err = backoff.Retry(ctx, func() (struct{}, error) {
		return struct{}{}, w.post(ctx, r.ID, body, sig)
	}, backoff.WithBackOff(b), backoff.WithMaxElapsedTime(w.cfg.MaxElapsed))
	return err
}

// post makes one attempt; 4xx other than 408 and 429 are permanent.
func (w *webhook) post(ctx context.Context, id string, body []byte, sig string) error {
	ctx, cancel := context.WithTimeout(ctx, w.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return backoff.Permanent(fmt.Errorf("build webhook request: %w", err))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(HeaderEvent, EventRequestCreated)
	req.Header.Set(HeaderDelivery, id)
	if sig != "" {
		req.Header.Set(HeaderSignature, sig)
	}
	resp, err := w.cfg.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("post webhook: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch {
	case resp.StatusCode/100 == 2:
		return nil
	case resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return fmt.Errorf("webhook answered %s", resp.Status)
	}
	return backoff.Permanent(errors.New("webhook answered " + resp.Status))
}

// WebhookStats reports the webhook's counters (zero without a webhook).
func (s *Service) WebhookStats() WebhookStats {
	if s.webhook == nil {
		return WebhookStats{}
	}
	return WebhookStats{Delivered: s.webhook.delivered.Load(), Failed: s.webhook.failed.Load(), Dropped: s.webhook.dropped.Load()}
}
