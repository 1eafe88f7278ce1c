package procs

import (
	"context"
	"log/slog"
	"runtime"
	"syscall"
	"time"
)

// Thresholds of the adaptation, as shares of the Ps in use.
const (
	// growAt adds a P when the daemon used more than this share of its
	// Ps' time over one interval.
	growAt = 0.75
	// shrinkAt drops one when the daemon would have used less than this
	// share of one P fewer, for calmIntervals intervals in a row. It is
	// not far under growAt because the same load costs more CPU on more
	// Ps: pgbench's select-only load kept 0.6 CPUs busy on two Ps and 0.5
	// on one.
	shrinkAt      = 0.65
	calmIntervals = 4
)

// DefaultInterval is how often the daemon's CPU time is sampled.
const DefaultInterval = 250 * time.Millisecond

// BulkRate is the rate of bulk transfers (Config.Bulk) from which Run
// keeps at least two Ps: sessions streaming large results or COPY data at
// once then run side by side. The masked bulk workload of the bench sends
// its clients about 200 MB/s in 64 KiB writes while using under half a
// CPU, and ran about a tenth faster on two Ps than on one; statement-by-
// statement loads move nothing in bulk.
const BulkRate = 32 << 20 // bytes a second

// Config configures Run.
type Config struct {
	// Max is the most Ps; 0 means the runtime's value when Run starts
	// (the CPUs available, or the cgroup's CPU limit).
	Max int
	// Interval between samples; 0 means DefaultInterval.
	Interval time.Duration
	// Bulk returns the bytes moved so far in bulk (rawio.BulkBytes); nil
	// counts none.
	Bulk   func() uint64
	Logger *slog.Logger

	// cpuTime and set replace the process's CPU time and
	// runtime.GOMAXPROCS in tests.
	cpuTime func() time.Duration
	set     func(n int) int
}

// Run adapts GOMAXPROCS until ctx ends, then restores the value it found.
// With Max 1 it holds one P until ctx ends; it returns at once when the
// runtime already runs on one and Max allows no more.
func Run(ctx context.Context, cfg Config) {
	if cfg.set == nil {
		cfg.set = runtime.GOMAXPROCS
	}
	if cfg.cpuTime == nil {
		cfg.cpuTime = processCPU
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Bulk == nil {
		cfg.Bulk = func() uint64 { return 0 }
	}
	orig := cfg.set(0)
	if cfg.Max <= 0 {
		cfg.Max = orig
	}
	if cfg.Max <= 1 && orig <= 1 {
		return // one P already, and nothing to adapt
	}
	cur := 1
	cfg.set(cur)
	defer cfg.set(orig)
	if cfg.Max <= 1 {
		<-ctx.Done() // capped at one P: nothing to adapt
		return
	}

	t := time.NewTicker(cfg.Interval)
	defer t.Stop()
	lastCPU, lastBulk, lastAt := cfg.cpuTime(), cfg.Bulk(), time.Now()
	calm := 0
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			c, b := cfg.cpuTime(), cfg.Bulk()
			wall := now.Sub(lastAt)
			if wall <= 0 {
				continue
			}
			used := float64(c-lastCPU) / float64(wall) // in CPUs
			rate := float64(b-lastBulk) / wall.Seconds()
			lastCPU, lastBulk, lastAt = c, b, now
			next, nextCalm := step(cur, cfg.Max, used, rate >= BulkRate, calm)
			calm = nextCalm
			if next != cur {
				cfg.Logger.Debug("scheduler resized", "gomaxprocs", next, "cpus_used", used, "bulk_bytes_per_second", rate)
				cur = next
				cfg.set(cur)
			}
		}
	}
}

// step decides the Ps for the next interval from the current ones, the
// CPUs used over the last interval and whether bulk transfers ran at
// BulkRate or more. calm counts the intervals in a row that wanted one P
// fewer.
func step(cur, max int, used float64, bulk bool, calm int) (next, nextCalm int) {
	least := 1
	if bulk {
		least = 2
	}
	switch {
	case (used > growAt*float64(cur) || cur < least) && cur < max:
		return cur + 1, 0
	case cur > least && used < shrinkAt*float64(cur-1):
		if calm+1 >= calmIntervals {
			return cur - 1, 0
		}
		return cur, calm + 1
	}
	return cur, 0
}

// processCPU is the user and system CPU time of the whole process.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
