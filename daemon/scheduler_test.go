package daemon

import (
	"context"
	"log/slog"
	"runtime"
	"testing"
	"time"

	"github.com/interlock-dev/interlock/daemon/config"
	"github.com/interlock-dev/interlock/daemon/procs"
)

func TestSizeScheduler(t *testing.T) {
	orig := runtime.GOMAXPROCS(0)
	t.Cleanup(func() { runtime.GOMAXPROCS(orig) })
	log := slog.New(slog.DiscardHandler)
	off, on := false, true

	t.Run("fixed", func(t *testing.T) {
		t.Setenv("GOMAXPROCS", "")
		sizeScheduler(context.Background(), config.Limits{CPUs: orig + 1, AdaptiveCPUs: &off}, log)
		if n := runtime.GOMAXPROCS(orig); n != orig+1 {
			t.Errorf("limits.cpus %d gave GOMAXPROCS %d", orig+1, n)
		}
	})
	t.Run("adaptive with one CPU fixes it", func(t *testing.T) {
		t.Setenv("GOMAXPROCS", "")
		runtime.GOMAXPROCS(2)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		sizeScheduler(ctx, config.Limits{CPUs: 1, AdaptiveCPUs: &on}, log)
		if n := waitGOMAXPROCS(1); n != 1 {
			t.Errorf("limits.cpus 1 with adaptive sizing gave GOMAXPROCS %d", n)
		}
		cancel()
		waitGOMAXPROCS(2)
		runtime.GOMAXPROCS(orig)
	})
	t.Run("environment wins", func(t *testing.T) {
		t.Setenv("GOMAXPROCS", "7")
		sizeScheduler(context.Background(), config.Limits{CPUs: orig + 1, AdaptiveCPUs: &on}, log)
		if n := runtime.GOMAXPROCS(0); n != orig {
			t.Errorf("with GOMAXPROCS in the environment, limits.cpus changed it to %d", n)
		}
	})
	t.Run("adaptive off leaves the runtime's choice", func(t *testing.T) {
		t.Setenv("GOMAXPROCS", "")
		runtime.GOMAXPROCS(2)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		sizeScheduler(ctx, config.Limits{AdaptiveCPUs: &off}, log)
		time.Sleep(procs.DefaultInterval + 100*time.Millisecond)
		if n := runtime.GOMAXPROCS(0); n != 2 {
			t.Errorf("limits without adaptive sizing changed GOMAXPROCS to %d", n)
		}
	})
	t.Run("adaptive", func(t *testing.T) {
		t.Setenv("GOMAXPROCS", "")
		runtime.GOMAXPROCS(2)
		ctx, cancel := context.WithCancel(context.Background())
		sizeScheduler(ctx, config.Limits{AdaptiveCPUs: &on}, log)
		n := waitGOMAXPROCS(1)
		cancel()
		if n != 1 {
			t.Fatalf("adaptive sizing left GOMAXPROCS at %d, want it to start at 1", n)
		}
		if n := waitGOMAXPROCS(2); n != 2 {
			t.Fatalf("GOMAXPROCS %d after the daemon's context ended, want 2 restored", n)
		}
	})
}

// waitGOMAXPROCS waits up to 5 s for GOMAXPROCS to become want and returns
// what it is then.
func waitGOMAXPROCS(want int) int {
	deadline := time.Now().Add(5 * time.Second)
	for runtime.GOMAXPROCS(0) != want && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	return runtime.GOMAXPROCS(0)
}
