package metrics

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/interlock-dev/interlock/policy"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

const namespace = "interlock"

const auditRecordsHelp = "Records in the audit chain (its next sequence number), from every writer: sessions, approvals, alerts, checkpoints."

// Metrics holds every collector interlockd exports.
type Metrics struct {
	Registry *prometheus.Registry

	SessionsActive      prometheus.Gauge
	SessionsTotal       prometheus.Counter
	ConnectionsRejected *prometheus.CounterVec // reason
	Statements          *prometheus.CounterVec // decision, kind
	PolicyEval          prometheus.Histogram
	CacheHits           prometheus.Counter
	CacheMisses         prometheus.Counter
	PolicyReloads       *prometheus.CounterVec // result
	UpstreamErrors      *prometheus.CounterVec // kind
	AuditWriteErrors    prometheus.Counter
	CancelRequests      *prometheus.CounterVec // result

	stmt      sync.Map                      // stmtKey → prometheus.Counter
	auditHead atomic.Pointer[func() uint64] // the audit chain's next sequence number
}

type stmtKey struct{ decision, kind string }

// New creates and registers the collectors on a fresh registry.
func New() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		SessionsActive: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "sessions_active", Help: "Client sessions currently open.",
		}),
		SessionsTotal: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "sessions_total", Help: "Client sessions authenticated and relayed.",
		}),
		ConnectionsRejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "connections_rejected_total", Help: "Client connections refused, by reason.",
		}, []string{"reason"}),
		Statements: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "statements_total", Help: "Statements checked, by decision and kind.",
		}, []string{"decision", "kind"}),
		PolicyEval: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Name: "policy_evaluation_seconds", Help: "Latency of policy evaluations (cache misses).",
			Buckets: prometheus.ExponentialBuckets(5e-6, 2, 16),
		}),
		CacheHits: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "policy_cache_hits_total", Help: "Statements decided from the cache.",
		}),
		CacheMisses: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "policy_cache_misses_total", Help: "Statements that needed a parse and a policy evaluation.",
		}),
		PolicyReloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "policy_reloads_total", Help: "Policy reloads, by result (ok, error).",
		}, []string{"result"}),
		UpstreamErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "upstream_errors_total", Help: "Upstream failures, by kind (connect, io).",
		}, []string{"kind"}),
		AuditWriteErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "audit_write_errors_total", Help: "Audit records that could not be written (the statement was refused).",
		}),
		CancelRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "cancel_requests_total", Help: "Cancel requests, by result (forwarded, unknown, error).",
		}, []string{"result"}),
	}
	m.Registry.MustRegister(
		m.SessionsActive, m.SessionsTotal, m.ConnectionsRejected, m.Statements,
		m.PolicyEval, m.CacheHits, m.CacheMisses, m.PolicyReloads, m.UpstreamErrors,
		m.AuditWriteErrors, m.CancelRequests,
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: namespace, Name: "audit_records_total", Help: auditRecordsHelp,
		}, func() float64 {
			if f := m.auditHead.Load(); f != nil {
				return float64((*f)())
			}
			return 0
		}),
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	for _, r := range []string{"ok", "error"} {
		m.PolicyReloads.WithLabelValues(r)
	}
	return m
}

// ObserveAuditHead makes audit_records_total report head (the audit chain's
// next sequence number).
func (m *Metrics) ObserveAuditHead(head func() uint64) { m.auditHead.Store(&head) }

// Serve serves /metrics on addr until ctx ends.
func (m *Metrics) Serve(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return m.ServeListener(ctx, ln)
}

// ServeListener serves /metrics on ln until ctx ends.
func (m *Metrics) ServeListener(ctx context.Context, ln net.Listener) error {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry}))
	// The metrics server starts once everything else is up, so answering
	// at all means interlockd is serving.
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Statement returns the statements_total counter for decision and kind,
// resolved once and then served from a lock-free cache.
func (m *Metrics) Statement(decision, kind string) prometheus.Counter {
	k := stmtKey{decision, kind}
	if c, ok := m.stmt.Load(k); ok {
		return c.(prometheus.Counter)
	}
	c, _ := m.stmt.LoadOrStore(k, m.Statements.WithLabelValues(decision, kind))
	return c.(prometheus.Counter)
}

// policyObserver counts policy engine events in Prometheus.
type policyObserver struct{ m *Metrics }

// PolicyObserver adapts the metrics to the policy engine's events.
func (m *Metrics) PolicyObserver() policy.Observer { return policyObserver{m} }

// CacheLookup counts a statement answered by the session memo or the
// shared decision cache as a hit; misses are counted by Evaluated.
func (o policyObserver) CacheLookup(c policy.Cache, hit bool) {
	if hit && (c == policy.CacheSession || c == policy.CacheDecision) {
		o.m.CacheHits.Inc()
	}
}

func (o policyObserver) Evaluated(d time.Duration, err error) {
	o.m.CacheMisses.Inc()
	o.m.PolicyEval.Observe(d.Seconds())
}

func (o policyObserver) Reloaded(err error) {
	if err != nil {
		o.m.PolicyReloads.WithLabelValues("error").Inc()
		return
	}
	o.m.PolicyReloads.WithLabelValues("ok").Inc()
}
