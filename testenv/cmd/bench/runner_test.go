package main

import (
	"math"
	"slices"
	"strings"
	"testing"
)

// attemptWith is a select-simple result whose direct rate spreads by
// spread across three rounds (NaN: no direct target), with interlockd at
// ratio × pgbouncer.
func attemptWith(spread, ratio float64) *workloadResult {
	series := map[string][]float64{
		"pgbouncer":  {1000, 1000, 1000},
		"interlockd": {1000 * ratio, 1000 * ratio, 1000 * ratio},
	}
	if !math.IsNaN(spread) {
		series["direct"] = []float64{2000, 2000, 2000 * (1 + spread)}
	}
	wr := fakeWorkload("select-simple", series)
	wr.Attempt = 1
	return wr
}

func TestKeepQuietest(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name        string
		spreads     []float64 // direct spread of attempt 1, 2, ...
		wantKept    int
		wantSpread  float64
		wantDropped []int
	}{
		{name: "later attempt quieter", spreads: []float64{0.30, 0.10}, wantKept: 2, wantSpread: 0.10, wantDropped: []int{1}},
		{name: "earlier attempt quieter", spreads: []float64{0.10, 0.30}, wantKept: 1, wantSpread: 0.10, wantDropped: []int{2}},
		{name: "first of three quietest", spreads: []float64{0.20, 0.40, 0.30}, wantKept: 1, wantSpread: 0.20, wantDropped: []int{2, 3}},
		{name: "middle of three quietest", spreads: []float64{0.40, 0.20, 0.30}, wantKept: 2, wantSpread: 0.20, wantDropped: []int{1, 3}},
		{name: "tie keeps the latest", spreads: []float64{0.20, 0.20}, wantKept: 2, wantSpread: 0.20, wantDropped: []int{1}},
		{name: "one attempt", spreads: []float64{0.30}, wantKept: 1, wantSpread: 0.30},
		{name: "no direct target keeps the latest", spreads: []float64{nan, nan}, wantKept: 2, wantSpread: nan, wantDropped: []int{1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wr := attemptWith(tt.spreads[0], 0.7)
			for _, sp := range tt.spreads[1:] {
				wr.retry()
				wr.Runs = attemptWith(sp, 0.7).Runs
			}
			wr.keepQuietest()
			if wr.Attempt != tt.wantKept {
				t.Errorf("kept attempt %d, want %d", wr.Attempt, tt.wantKept)
			}
			if got := wr.directSpread(); math.Abs(got-tt.wantSpread) > 1e-9 && !(math.IsNaN(got) && math.IsNaN(tt.wantSpread)) {
				t.Errorf("kept runs have direct spread %v, want %v (runs and attempt number disagree)", got, tt.wantSpread)
			}
			var dropped []int
			for i, d := range wr.Discarded {
				dropped = append(dropped, d.Attempt)
				if got, want := d.directSpread(), tt.spreads[d.Attempt-1]; math.Abs(got-want) > 1e-9 && !(math.IsNaN(got) && math.IsNaN(want)) {
					t.Errorf("discarded[%d] (attempt %d) has spread %v, want %v", i, d.Attempt, got, want)
				}
				if len(d.Discarded) != 0 {
					t.Errorf("discarded attempt %d holds discarded attempts of its own", d.Attempt)
				}
			}
			if !slices.Equal(dropped, tt.wantDropped) {
				t.Errorf("discarded attempts %v, want %v", dropped, tt.wantDropped)
			}
		})
	}
}

func TestRetryStartsEmpty(t *testing.T) {
	wr := attemptWith(0.3, 0.7)
	wr.retry()
	if wr.Attempt != 2 || len(wr.Discarded) != 1 || wr.Discarded[0].Attempt != 1 {
		t.Fatalf("after retry: attempt %d, discarded %d", wr.Attempt, len(wr.Discarded))
	}
	for _, tg := range wr.Targets {
		if runs, ok := wr.Runs[tg]; !ok || len(runs) != 0 {
			t.Errorf("target %s: runs %v (present %v), want an empty entry", tg, runs, ok)
		}
	}
	if n := len(wr.Discarded[0].Runs["direct"]); n != 3 {
		t.Errorf("discarded attempt kept %d direct runs, want 3", n)
	}
	if !wr.Discarded[0].tooNoisy() {
		t.Error("a 30% direct spread is not too noisy")
	}
	if attemptWith(0.1, 0.7).tooNoisy() || attemptWith(math.NaN(), 0.7).tooNoisy() {
		t.Error("a 10% spread, or no direct target, counts as too noisy")
	}
}

func TestMarkdownDiscarded(t *testing.T) {
	wr := attemptWith(0.40, 0.6)
	wr.retry()
	wr.Runs = attemptWith(0.05, 0.8).Runs
	wr.keepQuietest()
	r := &report{Meta: reportMeta{Rounds: 3, Retries: 1}, Workloads: []*workloadResult{wr}, GoSkipped: true}
	md := r.markdown()
	for _, want := range []string{
		"is thrown out and run again, up to 1 more time(s)",
		"These figures are attempt 2 of 2. Thrown out as noisier:",
		"- attempt 1: direct spread 40%; interlockd/pgbouncer 0.60×",
		"| interlockd/pgbouncer | 0.80 | 0.80 | 0.80 | **0.80** |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
	wr = attemptWith(0.05, 0.8)
	md = (&report{Meta: reportMeta{Rounds: 3}, Workloads: []*workloadResult{wr}, GoSkipped: true}).markdown()
	if strings.Contains(md, "Thrown out") || strings.Contains(md, "run again") {
		t.Errorf("a report without retries mentions them:\n%s", md)
	}
}
