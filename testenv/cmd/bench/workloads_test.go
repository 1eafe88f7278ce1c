package main

import (
	"slices"
	"testing"
	"time"
)

// TestWorkloadTargets: every target a workload names exists, every
// optional target is measured by a default workload, and the tables say
// which workload runs where.
func TestWorkloadTargets(t *testing.T) {
	used := map[string]bool{}
	for _, w := range workloads {
		for _, n := range w.Targets {
			if _, ok := findTarget(n); !ok {
				t.Errorf("workload %s names unknown target %q", w.Name, n)
			}
			if w.Default {
				used[n] = true
			}
		}
	}
	for _, s := range targets {
		if s.Optional && !used[s.Name] {
			t.Errorf("optional target %s runs in no default workload", s.Name)
		}
	}
	names := func(specs []targetSpec) []string {
		var out []string
		for _, s := range specs {
			out = append(out, s.Name)
		}
		return out
	}
	tests := []struct {
		workloads []string
		want      []string
	}{
		{[]string{"select-prepared"}, []string{"direct", "pgbouncer", "interlockd", "go-relay"}},
		{[]string{"wide"}, []string{"direct", "pgbouncer", "interlockd", "interlockd-nomask"}},
		{[]string{"connect"}, []string{"interlockd", "interlockd-redirect"}},
		{[]string{"guard-bulk", "select-latency"}, []string{"direct", "pgbouncer", "interlockd", "interlockd-redirect", "interlockd-guard"}},
		{nil, nil},
	}
	for _, tt := range tests {
		ws, err := selectWorkloads(tt.workloads)
		if err != nil {
			t.Fatal(err)
		}
		if got := names(usedTargets(ws, targets)); !slices.Equal(got, tt.want) {
			t.Errorf("usedTargets(%v) = %v, want %v", tt.workloads, got, tt.want)
		}
	}
	// A target the user left out is not started.
	ws, _ := selectWorkloads([]string{"select-simple"})
	specs, _ := selectTargets([]string{"interlockd", "interlockd-guard"})
	if got := names(usedTargets(ws, specs)); !slices.Equal(got, []string{"interlockd", "interlockd-guard"}) {
		t.Errorf("usedTargets with -targets interlockd,interlockd-guard = %v", got)
	}
}

func TestScaled(t *testing.T) {
	tests := []struct {
		scale float64
		d     time.Duration
		want  time.Duration
	}{
		{0, 10 * time.Second, 10 * time.Second},
		{0.6, 10 * time.Second, 6 * time.Second},
		{0.3, 10 * time.Second, 3 * time.Second},
		{0.8, 2 * time.Second, 2 * time.Second}, // 1.6s rounds to whole seconds
		{0.3, 2 * time.Second, time.Second},     // at least 1s
		{0.5, 0, 0},                             // no warm-up stays none
	}
	for _, tt := range tests {
		if got := (workload{Scale: tt.scale}).scaled(tt.d); got != tt.want {
			t.Errorf("scale %v of %v = %v, want %v", tt.scale, tt.d, got, tt.want)
		}
	}
}

// TestDefaultPlanFitsBudget: the default runs take 10–13.5 minutes of
// measurement, which with set-up, per-run overhead and the Go
// micro-benchmarks (about 3 minutes) keeps `make bench` at 13–17 minutes.
func TestDefaultPlanFitsBudget(t *testing.T) {
	o, err := parseFlags(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ws, _ := selectWorkloads(o.Workloads)
	specs, _ := selectTargets(o.Targets)
	got := plannedTime(ws, usedTargets(ws, specs), o)
	if got < 10*time.Minute || got > 13*time.Minute+30*time.Second {
		t.Errorf("default plan takes %v, want 10–13.5 minutes", got)
	}
}
