package alerts

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"time"

	"github.com/interlock-dev/interlock/daemon/audit"
	"github.com/interlock-dev/interlock/redirect"
	"github.com/prometheus/client_golang/prometheus"
)

// Defaults filled in by Config.Validate.
const (
	DefaultDedupWindow   = 10 * time.Second
	DefaultRateLimit     = 20 // alerts per second, all sources together
	DefaultBurst         = 100
	DefaultMaxSources    = 10000
	DefaultRecent        = 1000
	DefaultQueueSize     = 1024
	DefaultWebhookTimout = 5 * time.Second
	DefaultMinBackoff    = 500 * time.Millisecond
	DefaultMaxBackoff    = time.Minute
	DefaultCloseTimeout  = 5 * time.Second
	DefaultMaxFollowers  = 16
)

// AuditSink receives one record per alert; *audit.Log implements it.
type AuditSink interface {
	Write(audit.Body) error
}

// Config configures a Pipeline. The zero value (plus nothing) logs alerts
// and keeps them for the control API.
type Config struct {
	// Logger gets one structured line per alert. Default slog.Default().
	Logger *slog.Logger
	// Audit, if set, gets one TypeAlert record per alert (see AuditBody).
	Audit AuditSink
	// Registerer, if set, gets the pipeline's collectors (see metrics.go).
	Registerer prometheus.Registerer
	// KernelStats, if set, is read for the counters of attempts the kernel
	// did not report one by one (pass Redirector.KernelStats).
	KernelStats func() (redirect.KernelStats, error)
	// Webhook, if its URL is set, gets every alert as a JSON POST.
	Webhook WebhookConfig
	// DedupWindow folds repeats of one source and kind into one alert whose
	// count is sent when the window ends. Default DefaultDedupWindow.
	DedupWindow time.Duration
	// RateLimit bounds alerts per second over all sources (Burst at once);
	// what exceeds it is counted and dropped. Defaults DefaultRateLimit and
	// DefaultBurst.
	RateLimit float64
	Burst     int
	// MaxSources bounds the sources tracked for dedup. Default DefaultMaxSources.
	MaxSources int
	// Recent is how many alerts GET /v1/alerts can return. Default DefaultRecent.
	Recent int
	// MaxFollowers bounds concurrent ?follow=1 streams. Default DefaultMaxFollowers.
	MaxFollowers int
	// Host names this node in alerts. Default os.Hostname().
	Host string
	// CloseTimeout bounds how long Close waits for queued deliveries.
	// Default DefaultCloseTimeout.
	CloseTimeout time.Duration
	// Clock gives times. Default time.Now.
	Clock func() time.Time
}

// WebhookConfig configures the webhook sink.
type WebhookConfig struct {
	// URL receives a POST of one alert (JSON) per request. Empty: no webhook.
	URL string
	// Headers are added to every request (e.g. Authorization).
	Headers map[string]string
	// QueueSize bounds alerts waiting for delivery; when full, new alerts
	// are dropped and counted. Default DefaultQueueSize.
	QueueSize int
	// Timeout bounds one request. Default DefaultWebhookTimout.
	Timeout time.Duration
	// MinBackoff and MaxBackoff bound the exponential backoff between
	// retries. Defaults DefaultMinBackoff and DefaultMaxBackoff.
	MinBackoff time.Duration
	MaxBackoff time.Duration
	// MaxRetryTime gives up on an alert after this long; 0 retries until it
	// is delivered (or the pipeline closes), so nothing is lost while the
	// queue has room.
	MaxRetryTime time.Duration
}

// Validate checks c and fills in defaults.
func (c *Config) Validate() error {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.DedupWindow < 0 || c.RateLimit < 0 || c.Burst < 0 || c.MaxSources < 0 || c.Recent < 0 {
		return errors.New("alerts config: negative limits")
	}
	c.DedupWindow = cmp.Or(c.DedupWindow, DefaultDedupWindow)
	c.RateLimit = cmp.Or(c.RateLimit, DefaultRateLimit)
	c.Burst = cmp.Or(c.Burst, DefaultBurst)
	c.MaxSources = cmp.Or(c.MaxSources, DefaultMaxSources)
	c.Recent = cmp.Or(c.Recent, DefaultRecent)
	if c.MaxFollowers <= 0 {
		c.MaxFollowers = DefaultMaxFollowers
	}
	if c.Host == "" {
		c.Host, _ = os.Hostname()
	}
	if c.CloseTimeout <= 0 {
		c.CloseTimeout = DefaultCloseTimeout
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	return c.Webhook.validate()
}

func (w *WebhookConfig) validate() error {
	if w.URL == "" {
		return nil
	}
	u, err := url.Parse(w.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("alerts webhook %q: want an http(s) URL", w.URL)
	}
	if w.QueueSize < 0 || w.Timeout < 0 || w.MinBackoff < 0 || w.MaxBackoff < 0 || w.MaxRetryTime < 0 {
		return errors.New("alerts webhook: negative limits")
	}
	w.QueueSize = cmp.Or(w.QueueSize, DefaultQueueSize)
	w.Timeout = cmp.Or(w.Timeout, DefaultWebhookTimout)
	w.MinBackoff = cmp.Or(w.MinBackoff, DefaultMinBackoff)
	w.MaxBackoff = cmp.Or(w.MaxBackoff, DefaultMaxBackoff)
	if w.MaxBackoff < w.MinBackoff {
		return fmt.Errorf("alerts webhook: max backoff %s below min backoff %s", w.MaxBackoff, w.MinBackoff)
	}
	return nil
}
