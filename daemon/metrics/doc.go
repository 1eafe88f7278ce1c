// Package metrics defines interlockd's Prometheus metrics and serves them.
// Counters on the per-statement path are resolved once, up front, so the hot
// path only does an atomic add.
package metrics
