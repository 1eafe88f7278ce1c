package main

import (
	"math"
	"slices"
)

// noiseThreshold is the largest spread of direct TPS across rounds,
// (max-min)/median, before a workload is flagged noisy.
const noiseThreshold = 0.15

// median of the non-NaN values, NaN when there are none. An even count
// averages the two middle values.
func median(values []float64) float64 {
	v := finite(values)
	if len(v) == 0 {
		return math.NaN()
	}
	slices.Sort(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

// minMax of the non-NaN values, NaNs when there are none.
func minMax(values []float64) (lo, hi float64) {
	v := finite(values)
	if len(v) == 0 {
		return math.NaN(), math.NaN()
	}
	return slices.Min(v), slices.Max(v)
}

// spread is (max-min)/median of the non-NaN values: 0.15 means the rounds
// span 15% of their median. NaN with fewer than two values.
func spread(values []float64) float64 {
	v := finite(values)
	if len(v) < 2 {
		return math.NaN()
	}
	lo, hi := minMax(v)
	m := median(v)
	if m == 0 {
		return math.NaN()
	}
	return (hi - lo) / m
}

// noisy reports whether values spread more than noiseThreshold.
func noisy(values []float64) bool {
	s := spread(values)
	return !math.IsNaN(s) && s > noiseThreshold
}

// pairedRatios divides num[i] by den[i] round by round; a round where
// either is missing (NaN) or den is 0 gives NaN. The slices have one entry
// per round.
func pairedRatios(num, den []float64) []float64 {
	out := make([]float64, max(len(num), len(den)))
	for i := range out {
		out[i] = math.NaN()
		if i < len(num) && i < len(den) && den[i] != 0 && !math.IsNaN(num[i]) && !math.IsNaN(den[i]) {
			out[i] = num[i] / den[i]
		}
	}
	return out
}

func finite(values []float64) []float64 {
	out := make([]float64, 0, len(values))
	for _, x := range values {
		if !math.IsNaN(x) && !math.IsInf(x, 0) {
			out = append(out, x)
		}
	}
	return out
}
