package alerts

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/interlock-dev/interlock/testenv"
)

// waitFor bounds every wait in these tests.
const waitFor = 10 * time.Second

// fakeClock is a settable clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// newPipeline starts a pipeline for a test and closes it at the end.
func newPipeline(t *testing.T, cfg Config) *Pipeline {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = quietLogger()
	}
	p, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return p
}

func u32(v uint32) *uint32 { return &v }

// attempt is a raw-socket attempt by uid from cgroup.
func attempt(uid uint32, cgroup string) Alert {
	return Alert{Kind: KindRawSocket, Action: ActionBlocked, Count: 1, PID: 100 + uid, UID: u32(uid), Comm: "nc", Exe: "/usr/bin/nc", Cgroup: cgroup, Destination: "10.0.0.5:5432", Protocol: "tcp"}
}

// delivered waits until the pipeline delivered n alerts and returns them.
func delivered(t *testing.T, p *Pipeline, n int) []Alert {
	t.Helper()
	testenv.WaitFor(t, waitFor, "alerts delivered", func() bool { return p.Stats().Alerts >= uint64(n) })
	got := p.Recent(n + 10)
	if len(got) != n {
		t.Fatalf("delivered %d alerts, want %d: %+v", len(got), n, got)
	}
	return got
}
