package alerts

import (
	"errors"
	"sync/atomic"

	"github.com/interlock-dev/interlock/redirect"
	"github.com/prometheus/client_golang/prometheus"
)

const metricsNamespace = "interlock"

// Suppression reasons (label of interlock_alerts_suppressed_total).
const (
	// ReasonDedup: attempts folded into another alert's count (not lost).
	ReasonDedup = "dedup"
	// ReasonRateLimit: alerts over the global rate limit (lost).
	ReasonRateLimit = "rate_limit"
	// ReasonSources: a new source while MaxSources were tracked (lost).
	ReasonSources = "sources_full"
	// ReasonQueue: the delivery queue was full (lost).
	ReasonQueue = "queue_full"
)

// metrics are the pipeline's Prometheus collectors:
//
//	interlock_bypass_attempts_total{kind,action}   every attempt reported, before dedup
//	interlock_alerts_total{kind,action}            alerts delivered
//	interlock_alerts_suppressed_total{reason}      attempts not alerted one by one
//	interlock_alert_audit_errors_total             audit records that failed
//	interlock_alert_webhook_deliveries_total{result} delivered | failed (gave up)
//	interlock_alert_webhook_retries_total
//	interlock_alert_webhook_dropped_total          alerts the full webhook queue refused
//	interlock_alert_webhook_queue_length
//	interlock_bypass_kernel_{lost,deduped,over_budget}_total  (with Config.KernelStats)
type metrics struct {
	attempts    *prometheus.CounterVec
	alerts      *prometheus.CounterVec
	suppressed  *prometheus.CounterVec
	auditErrors prometheus.Counter
	deliveries  *prometheus.CounterVec
	retries     prometheus.Counter
	dropped     prometheus.Counter
	queueLen    prometheus.GaugeFunc
	kernel      []prometheus.Collector
}

func newMetrics(queueLen func() float64, kernel func() (redirect.KernelStats, error)) *metrics {
	m := &metrics{
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace, Name: "bypass_attempts_total",
			Help: "Attempts to reach a protected database without interlockd, by kind and action (blocked, detected).",
		}, []string{"kind", "action"}),
		alerts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace, Name: "alerts_total",
			Help: "Bypass alerts delivered, by kind and action; one alert may stand for many attempts.",
		}, []string{"kind", "action"}),
		suppressed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace, Name: "alerts_suppressed_total",
			Help: "Attempts not alerted one by one: dedup (folded into a later alert's count), rate_limit, sources_full, queue_full (lost).",
		}, []string{"reason"}),
		auditErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: metricsNamespace, Name: "alert_audit_errors_total",
			Help: "Alerts whose audit record could not be written.",
		}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace, Name: "alert_webhook_deliveries_total",
			Help: "Webhook deliveries by result: delivered, failed (gave up).",
		}, []string{"result"}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: metricsNamespace, Name: "alert_webhook_retries_total",
			Help: "Webhook requests retried after a failure.",
		}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: metricsNamespace, Name: "alert_webhook_dropped_total",
			Help: "Alerts dropped because the webhook queue was full.",
		}),
		queueLen: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: metricsNamespace, Name: "alert_webhook_queue_length",
			Help: "Alerts waiting for webhook delivery.",
		}, queueLen),
	}
	if kernel != nil {
		read := func(f func(redirect.KernelStats) uint64) func() float64 {
			return func() float64 {
				st, err := kernel()
				if err != nil {
					return 0
				}
				return float64(f(st))
			}
		}
		for _, k := range []struct {
			name, help string
			f          func(redirect.KernelStats) uint64
		}{
			{"bypass_kernel_lost_total", "Attempts the kernel could not report (ring buffer or queue full).", func(s redirect.KernelStats) uint64 { return s.Lost }},
			{"bypass_kernel_deduped_total", "Attempts the kernel folded into a later event's count.", func(s redirect.KernelStats) uint64 { return s.Deduped }},
			{"bypass_kernel_over_budget_total", "Attempts over the kernel's per-CPU event budget (reported late).", func(s redirect.KernelStats) uint64 { return s.OverBudget }},
		} {
			m.kernel = append(m.kernel, prometheus.NewCounterFunc(prometheus.CounterOpts{
				Namespace: metricsNamespace, Name: k.name, Help: k.help,
			}, read(k.f)))
		}
	}
	return m
}

func (m *metrics) register(r prometheus.Registerer) error {
	if r == nil {
		return nil
	}
	cs := append([]prometheus.Collector{m.attempts, m.alerts, m.suppressed, m.auditErrors, m.deliveries, m.retries, m.dropped, m.queueLen}, m.kernel...)
	var errs []error
	for _, c := range cs {
		errs = append(errs, r.Register(c))
	}
	return errors.Join(errs...)
}

// Stats counts what the pipeline did since it started.
type Stats struct {
	Attempts         uint64            `json:"attempts"`
	Alerts           uint64            `json:"alerts"`
	Suppressed       map[string]uint64 `json:"suppressed"`
	AuditErrors      uint64            `json:"audit_errors"`
	WebhookDelivered uint64            `json:"webhook_delivered"`
	WebhookFailed    uint64            `json:"webhook_failed"`
	WebhookRetries   uint64            `json:"webhook_retries"`
	WebhookDropped   uint64            `json:"webhook_dropped"`
}

// counters mirror the Prometheus metrics for Stats.
type counters struct {
	attempts, alerts, auditErrors                       atomic.Uint64
	dedup, rateLimit, sources, queue                    atomic.Uint64
	hookDelivered, hookFailed, hookRetries, hookDropped atomic.Uint64
}

func (c *counters) snapshot() Stats {
	return Stats{
		Attempts: c.attempts.Load(),
		Alerts:   c.alerts.Load(),
		Suppressed: map[string]uint64{
			ReasonDedup:     c.dedup.Load(),
			ReasonRateLimit: c.rateLimit.Load(),
			ReasonSources:   c.sources.Load(),
			ReasonQueue:     c.queue.Load(),
		},
		AuditErrors:      c.auditErrors.Load(),
		WebhookDelivered: c.hookDelivered.Load(),
		WebhookFailed:    c.hookFailed.Load(),
		WebhookRetries:   c.hookRetries.Load(),
		WebhookDropped:   c.hookDropped.Load(),
	}
}
