package main

import "testing"

func TestFmtNum(t *testing.T) {
	tests := []struct {
		x    float64
		prec int
		want string
	}{
		{35512.4, 0, "35,512"},
		{1234567.891, 2, "1,234,567.89"},
		{999, 0, "999"},
		{-48213, 0, "-48,213"},
		{0.5, 2, "0.50"},
		{nan, 1, "–"},
	}
	for _, tt := range tests {
		if got := fmtNum(tt.x, tt.prec); got != tt.want {
			t.Errorf("fmtNum(%v, %d) = %q, want %q", tt.x, tt.prec, got, tt.want)
		}
	}
	if got := fmtSigned(48, 0); got != "+48" {
		t.Errorf("fmtSigned(48) = %q, want +48", got)
	}
}
