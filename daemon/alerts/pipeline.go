package alerts

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/interlock-dev/interlock/redirect"
	"golang.org/x/time/rate"
)

// ErrClosed is returned by a closed Pipeline.
var ErrClosed = errors.New("alerts: pipeline closed")

// deliverQueue bounds alerts waiting for the delivery worker.
const deliverQueue = 4096

// Pipeline receives bypass attempts and delivers alerts. Its methods are
// safe for concurrent use and never block on a sink.
type Pipeline struct {
	cfg     Config
	log     *slog.Logger
	m       *metrics
	c       counters
	limiter *rate.Limiter
	hook    *webhook

	mu      sync.Mutex
	sources map[dedupKey]*source
	closed  bool

	sendMu  sync.RWMutex // held for reading while sending on deliver
	sendOff bool         // deliver is closed
	deliver chan Alert
	seq     atomic.Uint64
	recent  *ring
	subs    *subscribers
	audit   auditWriter

	stop     chan struct{}
	flushed  chan struct{}
	worker   chan struct{}
	closeErr error
	once     sync.Once
}

// New starts a pipeline: its dedup flusher, delivery worker and (with a
// webhook URL) webhook worker. Close stops them.
func New(ctx context.Context, cfg Config) (*Pipeline, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p := &Pipeline{
		cfg:     cfg,
		log:     cfg.Logger,
		limiter: rate.NewLimiter(rate.Limit(cfg.RateLimit), cfg.Burst),
		sources: make(map[dedupKey]*source),
		deliver: make(chan Alert, deliverQueue),
		recent:  newRing(cfg.Recent),
		subs:    newSubscribers(),
		stop:    make(chan struct{}),
		flushed: make(chan struct{}),
		worker:  make(chan struct{}),
	}
	p.audit = auditWriter{sink: cfg.Audit}
	if cfg.Webhook.URL != "" {
		p.hook = newWebhook(cfg.Webhook, p.log, &p.c)
	}
	p.m = newMetrics(p.queueLen, cfg.KernelStats)
	if p.hook != nil {
		p.hook.m = p.m
	}
	if err := p.m.register(cfg.Registerer); err != nil {
		return nil, fmt.Errorf("register alert metrics: %w", err)
	}
	if p.hook != nil {
		p.hook.start()
	}
	go p.flushLoop()
	go p.deliverLoop()
	return p, nil
}

func (p *Pipeline) queueLen() float64 {
	if p.hook == nil {
		return 0
	}
	return float64(len(p.hook.queue))
}

// EventSource is what Consume reads; *redirect.EventReader implements it.
type EventSource interface {
	Read(ctx context.Context) (redirect.Event, error)
}

// Consume submits every event of src until ctx ends (nil) or src fails.
func (p *Pipeline) Consume(ctx context.Context, src EventSource) error {
	for {
		ev, err := src.Read(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("read bypass events: %w", err)
		}
		p.Submit(FromEvent(ev))
	}
}

// Submit reports an attempt (or a.Count of them). It counts it, folds
// repeats of the same source and kind into one alert per dedup window,
// applies the global rate limit and queues the alert for delivery; what
// does not fit is counted, never waited for.
func (p *Pipeline) Submit(a Alert) {
	a.Count = max(a.Count, 1)
	if a.Time.IsZero() {
		a.Time = p.cfg.Clock()
	}
	p.c.attempts.Add(a.Count)
	p.m.attempts.WithLabelValues(string(a.Kind), string(a.Action)).Add(float64(a.Count))

	if !p.admit(&a) {
		return
	}
	p.emit(a)
}

// emit applies the rate limit and queues a for delivery.
func (p *Pipeline) emit(a Alert) {
	if !p.limiter.Allow() {
		p.suppress(ReasonRateLimit, a.Count)
		return
	}
	p.sendMu.RLock()
	defer p.sendMu.RUnlock()
	if p.sendOff {
		return
	}
	select {
	case p.deliver <- a:
	default:
		p.suppress(ReasonQueue, a.Count)
	}
}

func (p *Pipeline) suppress(reason string, n uint64) {
	switch reason {
	case ReasonDedup:
		p.c.dedup.Add(n)
	case ReasonRateLimit:
		p.c.rateLimit.Add(n)
	case ReasonSources:
		p.c.sources.Add(n)
	case ReasonQueue:
		p.c.queue.Add(n)
	}
	p.m.suppressed.WithLabelValues(reason).Add(float64(n))
}

// deliverLoop hands each alert to the sinks, in order.
func (p *Pipeline) deliverLoop() {
	defer close(p.worker)
	for a := range p.deliver {
		a.Seq = p.seq.Add(1)
		a.Host = p.cfg.Host
		p.c.alerts.Add(1)
		p.m.alerts.WithLabelValues(string(a.Kind), string(a.Action)).Inc()
		p.logAlert(a)
		if err := p.audit.write(a); err != nil {
			p.c.auditErrors.Add(1)
			p.m.auditErrors.Inc()
			p.log.Error("audit record of an alert", logKeySeq, a.Seq, logKeyError, err)
		}
		p.recent.add(a)
		p.subs.publish(a)
		if p.hook != nil {
			p.hook.enqueue(a)
		}
	}
}

// logAlert writes the structured line of an alert.
func (p *Pipeline) logAlert(a Alert) {
	attrs := []slog.Attr{
		slog.Uint64(logKeySeq, a.Seq),
		slog.String(logKeyKind, string(a.Kind)),
		slog.String(logKeyAction, string(a.Action)),
		slog.Uint64(logKeyCount, a.Count),
		slog.String(logKeyDst, a.Destination),
	}
	if a.PID != 0 {
		attrs = append(attrs, slog.Uint64(logKeyPID, uint64(a.PID)), slog.String(logKeyComm, a.Comm), slog.String(logKeyExe, a.Exe))
	}
	if a.UID != nil {
		attrs = append(attrs, slog.Uint64(logKeyUID, uint64(*a.UID)))
	}
	if a.Cgroup != "" {
		attrs = append(attrs, slog.String(logKeyCgroup, a.Cgroup))
	}
	if a.Source != "" {
		attrs = append(attrs, slog.String(logKeySrc, a.Source))
	}
	if a.Interface != "" {
		attrs = append(attrs, slog.String(logKeyIface, a.Interface))
	}
	p.log.LogAttrs(context.Background(), slog.LevelWarn, "bypass attempt", attrs...)
}

// Recent returns up to n of the latest alerts, oldest first.
func (p *Pipeline) Recent(n int) []Alert { return p.recent.last(n) }

// Subscribe returns a channel of alerts delivered from now on, with room
// for buf. A subscriber that falls behind is dropped: its channel closes.
// Call cancel when done.
func (p *Pipeline) Subscribe(buf int) (<-chan Alert, func()) { return p.subs.add(buf) }

// Stats counts what the pipeline did.
func (p *Pipeline) Stats() Stats { return p.c.snapshot() }

// Close reports what the dedup windows still hold, delivers what is queued
// (the webhook gets up to Config.CloseTimeout) and stops. Safe to call twice.
func (p *Pipeline) Close() error {
	p.once.Do(func() {
		p.mu.Lock()
		p.closed = true
		p.mu.Unlock()
		close(p.stop)
		<-p.flushed // the flusher reported every pending count
		p.sendMu.Lock()
		p.sendOff = true
		close(p.deliver)
		p.sendMu.Unlock()
		<-p.worker
		p.subs.closeAll()
		if p.hook != nil {
			p.closeErr = p.hook.close(p.cfg.CloseTimeout)
		}
	})
	return p.closeErr
}

// flushLoop sends the counts dedup windows collected once they end, and
// everything pending when the pipeline closes.
func (p *Pipeline) flushLoop() {
	defer close(p.flushed)
	t := time.NewTicker(max(p.cfg.DedupWindow/4, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-t.C:
			p.flush(false)
		case <-p.stop:
			p.flush(true)
			return
		}
	}
}
