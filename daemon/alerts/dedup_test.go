package alerts

import (
	"testing"
	"time"
)

// Repeats of one source and kind inside the window fold into the first
// alert's window: one alert now, one with the rest of the count when the
// window ends. Other sources and kinds are alerted on their own.
func TestDedupPerSourceAndKind(t *testing.T) {
	clk := newFakeClock()
	p := newPipeline(t, Config{DedupWindow: 10 * time.Second, Clock: clk.Now})

	for range 5 {
		p.Submit(attempt(1000, "/app"))
	}
	unix := attempt(1000, "/app")
	unix.Kind, unix.Destination, unix.Protocol = KindUnixSocket, "/run/postgresql/.s.PGSQL.5432", "unix"
	p.Submit(unix)
	p.Submit(attempt(2000, "/other"))
	tc := Alert{Kind: KindTCDrop, Action: ActionBlocked, Count: 3, Source: "10.9.9.9:1234", Destination: "10.0.0.5:5432"}
	p.Submit(tc)
	tc.Source = "10.9.9.9:1235" // same host, another port: same source
	p.Submit(tc)

	got := delivered(t, p, 4)
	wantCounts := map[Kind]uint64{KindRawSocket: 1, KindUnixSocket: 1, KindTCDrop: 3}
	for _, a := range got {
		if a.Kind == KindRawSocket && *a.UID == 2000 {
			continue
		}
		if a.Count != wantCounts[a.Kind] {
			t.Errorf("%s alert count %d, want %d", a.Kind, a.Count, wantCounts[a.Kind])
		}
	}

	// Inside the window nothing more comes; after it, the folded counts.
	clk.Advance(5 * time.Second)
	p.flush(false)
	if n := p.Stats().Alerts; n != 4 {
		t.Fatalf("%d alerts before the window ended, want 4", n)
	}
	clk.Advance(5 * time.Second)
	p.flush(false)
	got = delivered(t, p, 6)[4:]
	counts := map[Kind]uint64{}
	for _, a := range got {
		counts[a.Kind] = a.Count
	}
	if counts[KindRawSocket] != 4 || counts[KindTCDrop] != 3 || len(counts) != 2 {
		t.Errorf("flushed counts %v, want raw_socket 4 and tc_drop 3", counts)
	}
	st := p.Stats()
	if st.Attempts != 5+1+1+6 || st.Suppressed[ReasonDedup] != 4+3 {
		t.Errorf("Stats = %+v, want 13 attempts, 7 deduped", st)
	}

	// A quiet source is forgotten; its next attempt is alerted at once.
	clk.Advance(10 * time.Second)
	p.flush(false)
	p.flush(false)
	p.Submit(attempt(1000, "/app"))
	if a := delivered(t, p, 7)[6]; a.Count != 1 {
		t.Errorf("next alert count %d, want 1", a.Count)
	}
}

// An attempt after the window that has pending repeats carries their count.
func TestDedupNextWindowCarriesCount(t *testing.T) {
	clk := newFakeClock()
	p := newPipeline(t, Config{DedupWindow: time.Second, Clock: clk.Now})
	p.Submit(attempt(1, "/a"))
	p.Submit(attempt(1, "/a"))
	p.Submit(attempt(1, "/a"))
	clk.Advance(time.Second)
	p.Submit(attempt(1, "/a"))
	got := delivered(t, p, 2)
	if got[0].Count != 1 || got[1].Count != 3 {
		t.Errorf("counts %d, %d; want 1 and 3 (2 folded + this one)", got[0].Count, got[1].Count)
	}
}

// Many sources at once: beyond the rate limit they are counted, not alerted.
func TestRateLimitAndSourceBound(t *testing.T) {
	tests := []struct {
		name       string
		cfg        Config
		sources    int
		wantAlerts uint64
		reason     string
	}{
		{"rate limit", Config{RateLimit: 0.001, Burst: 3}, 50, 3, ReasonRateLimit},
		{"source bound", Config{RateLimit: 1000, Burst: 1000, MaxSources: 5}, 50, 5, ReasonSources},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPipeline(t, tt.cfg)
			for i := range tt.sources {
				p.Submit(attempt(uint32(i), "/flood"))
			}
			delivered(t, p, int(tt.wantAlerts))
			st := p.Stats()
			if got := st.Suppressed[tt.reason]; got != uint64(tt.sources)-tt.wantAlerts {
				t.Errorf("suppressed[%s] = %d, want %d", tt.reason, got, uint64(tt.sources)-tt.wantAlerts)
			}
		})
	}
}

// Close reports what the windows still hold.
func TestCloseFlushesPending(t *testing.T) {
	clk := newFakeClock()
	var sink recordingAudit
	p, err := New(t.Context(), Config{DedupWindow: time.Hour, Clock: clk.Now, Logger: quietLogger(), Audit: &sink})
	if err != nil {
		t.Fatal(err)
	}
	for range 4 {
		p.Submit(attempt(7, "/x"))
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	got := p.Recent(10)
	if len(got) != 2 || got[0].Count+got[1].Count != 4 {
		t.Errorf("alerts after Close %+v, want 2 with 4 attempts in all", got)
	}
	p.Submit(attempt(7, "/x")) // after Close: ignored, no panic
}
