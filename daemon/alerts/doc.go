// Package alerts turns bypass attempts into security alerts and delivers
// them: a structured log line, the audit chain, Prometheus counters, an
// optional webhook, and the recent/streaming list behind `interlock alerts`.
//
//	redirect.EventReader ──Consume──┐      (kernel events, startup sweep)
//	other packages ─────────Submit──┤
//	                                ▼
//	         count attempts (interlock_bypass_attempts_total{kind,action})
//	         dedup per source+kind (window) ── repeats fold into one
//	         │                                 alert's count, flushed
//	         │                                 when the window ends
//	         rate limit (all sources) ──────── over: counted, dropped
//	         ▼
//	         delivery worker: slog, audit record, recent ring, followers,
//	         webhook queue ─► webhook worker (POST, exponential backoff)
//
// Nothing on this path blocks the caller: queues are bounded and what does
// not fit is counted (interlock_alerts_suppressed_total,
// interlock_alert_webhook_dropped_total). The package does not import
// cilium/ebpf; it takes redirect's plain Event structs. docs/guard.md
// describes the alerts.
package alerts
