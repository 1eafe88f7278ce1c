package alerts

import (
	"strings"
	"testing"
	"time"

	"github.com/interlock-dev/interlock/redirect"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// interlock_bypass_attempts_total counts attempts (deduped ones too), by
// kind and action; the kernel's counters are read on scrape.
func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	clk := newFakeClock()
	kernel := func() (redirect.KernelStats, error) {
		return redirect.KernelStats{Lost: 2, Deduped: 30, OverBudget: 4}, nil
	}
	p := newPipeline(t, Config{Registerer: reg, Clock: clk.Now, DedupWindow: time.Minute, KernelStats: kernel})
	for range 3 {
		p.Submit(attempt(1, "/a"))
	}
	detected := attempt(1, "/a")
	detected.Action, detected.Count = ActionDetected, 5
	p.Submit(detected)
	delivered(t, p, 2)

	want := `
# HELP interlock_bypass_attempts_total Attempts to reach a protected database without interlockd, by kind and action (blocked, detected).
# TYPE interlock_bypass_attempts_total counter
interlock_bypass_attempts_total{action="blocked",kind="raw_socket"} 3
interlock_bypass_attempts_total{action="detected",kind="raw_socket"} 5
# HELP interlock_alerts_total Bypass alerts delivered, by kind and action; one alert may stand for many attempts.
# TYPE interlock_alerts_total counter
interlock_alerts_total{action="blocked",kind="raw_socket"} 1
interlock_alerts_total{action="detected",kind="raw_socket"} 1
# HELP interlock_alerts_suppressed_total Attempts not alerted one by one: dedup (folded into a later alert's count), rate_limit, sources_full, queue_full (lost).
# TYPE interlock_alerts_suppressed_total counter
interlock_alerts_suppressed_total{reason="dedup"} 2
# HELP interlock_bypass_kernel_deduped_total Attempts the kernel folded into a later event's count.
# TYPE interlock_bypass_kernel_deduped_total counter
interlock_bypass_kernel_deduped_total 30
# HELP interlock_bypass_kernel_lost_total Attempts the kernel could not report (ring buffer or queue full).
# TYPE interlock_bypass_kernel_lost_total counter
interlock_bypass_kernel_lost_total 2
`
	names := []string{"interlock_bypass_attempts_total", "interlock_alerts_total", "interlock_alerts_suppressed_total", "interlock_bypass_kernel_deduped_total", "interlock_bypass_kernel_lost_total"}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}
	if n, err := testutil.GatherAndCount(reg, "interlock_alert_webhook_dropped_total", "interlock_alert_webhook_queue_length"); err != nil || n != 2 {
		t.Errorf("webhook metrics: %d, %v; want both registered", n, err)
	}
}
