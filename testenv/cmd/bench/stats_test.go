package main

import (
	"math"
	"slices"
	"testing"
)

var nan = math.NaN()

// sameFloats compares with NaN equal to NaN and a small tolerance.
func sameFloats(a, b []float64) bool {
	return slices.EqualFunc(a, b, func(x, y float64) bool {
		return (math.IsNaN(x) && math.IsNaN(y)) || math.Abs(x-y) < 1e-9
	})
}

func TestMedian(t *testing.T) {
	tests := []struct {
		name string
		in   []float64
		want float64
	}{
		{"odd", []float64{3, 1, 2}, 2},
		{"even averages the middle two", []float64{4, 1, 3, 2}, 2.5},
		{"single", []float64{7}, 7},
		{"NaN ignored", []float64{nan, 5, 1, nan, 3}, 3},
		{"all NaN", []float64{nan, nan}, nan},
		{"empty", nil, nan},
		{"outlier does not move it", []float64{10, 11, 12, 13, 1000}, 12},
	}
	for _, tt := range tests {
		if got := median(tt.in); !sameFloats([]float64{got}, []float64{tt.want}) {
			t.Errorf("%s: median(%v) = %v, want %v", tt.name, tt.in, got, tt.want)
		}
	}
	in := []float64{3, 1, 2}
	median(in)
	if !slices.Equal(in, []float64{3, 1, 2}) {
		t.Errorf("median reordered its input: %v", in)
	}
}

func TestSpreadAndNoisy(t *testing.T) {
	tests := []struct {
		name      string
		in        []float64
		spread    float64
		wantNoisy bool
	}{
		{"steady", []float64{100, 101, 99, 100, 102}, 0.03, false},
		{"exactly 15% is not noisy", []float64{95, 100, 100, 100, 110}, 0.15, false},
		{"just over 15%", []float64{95, 100, 100, 100, 111}, 0.16, true},
		{"one slow round", []float64{100, 100, 80, 100, 100}, 0.2, true},
		{"failed round ignored", []float64{100, nan, 101, 100}, 0.01, false},
		{"one value cannot be judged", []float64{100, nan}, nan, false},
		{"empty", nil, nan, false},
	}
	for _, tt := range tests {
		got := spread(tt.in)
		if !sameFloats([]float64{got}, []float64{tt.spread}) {
			t.Errorf("%s: spread(%v) = %v, want %v", tt.name, tt.in, got, tt.spread)
		}
		if n := noisy(tt.in); n != tt.wantNoisy {
			t.Errorf("%s: noisy(%v) = %v, want %v", tt.name, tt.in, n, tt.wantNoisy)
		}
	}
}

func TestPairedRatios(t *testing.T) {
	tests := []struct {
		name     string
		num, den []float64
		want     []float64
	}{
		{"per round", []float64{80, 90, 70}, []float64{100, 100, 100}, []float64{0.8, 0.9, 0.7}},
		{"missing rounds give NaN", []float64{80, nan, 70}, []float64{100, 100, nan}, []float64{0.8, nan, nan}},
		{"zero denominator", []float64{1}, []float64{0}, []float64{nan}},
		{"uneven lengths", []float64{50}, []float64{100, 100}, []float64{0.5, nan}},
	}
	for _, tt := range tests {
		if got := pairedRatios(tt.num, tt.den); !sameFloats(got, tt.want) {
			t.Errorf("%s: pairedRatios = %v, want %v", tt.name, got, tt.want)
		}
	}
	// Pairing per round differs from dividing medians when rounds drift.
	num, den := []float64{10, 20, 30}, []float64{10, 40, 15}
	if got, want := median(pairedRatios(num, den)), 1.0; got != want {
		t.Errorf("median of paired ratios = %v, want %v", got, want)
	}
	if got := median(num) / median(den); got == 1.0 {
		t.Errorf("ratio of medians = %v; the test data should tell the two apart", got)
	}
}

func TestPairedDiffs(t *testing.T) {
	got := pairedDiffs([]float64{150, 160, nan}, []float64{100, 90, 95})
	if want := []float64{50, 70, nan}; !sameFloats(got, want) {
		t.Errorf("pairedDiffs = %v, want %v", got, want)
	}
}

func TestRotate(t *testing.T) {
	list := []string{"direct", "pgbouncer", "interlockd"}
	want := [][]string{
		{"direct", "pgbouncer", "interlockd"},
		{"pgbouncer", "interlockd", "direct"},
		{"interlockd", "direct", "pgbouncer"},
		{"direct", "pgbouncer", "interlockd"},
	}
	for r, w := range want {
		if got := rotate(list, r); !slices.Equal(got, w) {
			t.Errorf("rotate(round %d) = %v, want %v", r, got, w)
		}
	}
	if !slices.Equal(list, want[0]) {
		t.Errorf("rotate changed its input: %v", list)
	}
}
