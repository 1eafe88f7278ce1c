package procs

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestStep(t *testing.T) {
	tests := []struct {
		name           string
		cur, max       int
		used           float64
		bulk           bool
		calm           int
		want, wantCalm int
	}{
		{"busy one P grows", 1, 4, 0.9, false, 0, 2, 0},
		{"busy at the cap stays", 4, 4, 3.9, false, 0, 4, 0},
		{"half-busy one P stays", 1, 4, 0.5, false, 0, 1, 0},
		{"exactly at the grow line stays", 2, 4, 1.5, false, 0, 2, 0},
		{"busy two Ps grow", 2, 4, 1.6, false, 0, 3, 0},
		{"light load counts one calm interval", 2, 4, 0.3, false, 0, 2, 1},
		{"light load long enough shrinks", 2, 4, 0.3, false, calmIntervals - 1, 1, 0},
		{"middling load resets the calm count", 2, 4, 0.9, false, 2, 2, 0},
		{"a grow resets the calm count", 2, 4, 1.8, false, 3, 3, 0},
		{"one P never shrinks", 1, 4, 0, false, calmIntervals, 1, 0},
		{"two Ps with most of one P's work stay", 2, 4, 0.7, false, 0, 2, 0},
		{"two Ps with 0.6 CPUs of work shrink in time", 2, 4, 0.6, false, calmIntervals - 1, 1, 0},
		{"three Ps with two Ps' worth of work stay", 3, 4, 1.5, false, 0, 3, 0},
		{"three Ps with under two-thirds of two shrink in time", 3, 4, 1.2, false, calmIntervals - 1, 2, 0},
		{"bulk on one idle P grows", 1, 4, 0.2, true, 0, 2, 0},
		{"bulk keeps two idle Ps", 2, 4, 0.2, true, calmIntervals - 1, 2, 0},
		{"bulk with one CPU to give stays", 1, 1, 0.2, true, 0, 1, 0},
		{"busy bulk grows past two", 2, 4, 1.6, true, 0, 3, 0},
		{"bulk lets three idle Ps shrink to two", 3, 4, 0.2, true, calmIntervals - 1, 2, 0},
		{"two idle Ps after bulk shrink in time", 2, 4, 0.2, false, calmIntervals - 1, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, gotCalm := step(tt.cur, tt.max, tt.used, tt.bulk, tt.calm)
			if got != tt.want || gotCalm != tt.wantCalm {
				t.Errorf("step(%d, %d, %v, %t, %d) = %d, %d; want %d, %d", tt.cur, tt.max, tt.used, tt.bulk, tt.calm, got, gotCalm, tt.want, tt.wantCalm)
			}
		})
	}
}

// fakeProcess is a process whose CPU use (in CPUs) and bulk transfer rate
// (bytes a second) the test sets.
type fakeProcess struct {
	mu    sync.Mutex
	load  float64
	rate  float64
	cpu   time.Duration
	bulk  float64
	at    time.Time
	procs atomic.Int64
	seen  chan int
}

func newFakeProcess(procs int) *fakeProcess {
	p := &fakeProcess{at: time.Now(), seen: make(chan int, 100)}
	p.procs.Store(int64(procs))
	return p
}

func (p *fakeProcess) setLoad(l float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.advanceLocked()
	p.load = l
}

func (p *fakeProcess) setBulk(rate float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.advanceLocked()
	p.rate = rate
}

func (p *fakeProcess) advanceLocked() {
	now := time.Now()
	d := now.Sub(p.at)
	p.cpu += time.Duration(p.load * float64(d))
	p.bulk += p.rate * d.Seconds()
	p.at = now
}

func (p *fakeProcess) cpuTime() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.advanceLocked()
	return p.cpu
}

func (p *fakeProcess) bulkBytes() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.advanceLocked()
	return uint64(p.bulk)
}

func (p *fakeProcess) set(n int) int {
	if n <= 0 {
		return int(p.procs.Load())
	}
	old := p.procs.Swap(int64(n))
	p.seen <- n
	return int(old)
}

// waitFor waits until the process runs with want Ps.
func (p *fakeProcess) waitFor(t *testing.T, want int, what string) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case n := <-p.seen:
			if n == want {
				return
			}
		case <-deadline:
			t.Fatalf("%s: still %d Ps after 10 s, want %d", what, p.procs.Load(), want)
		}
	}
}

// start runs Run on p with cfg every 5 ms; stop ends it and waits.
func (p *fakeProcess) start(cfg Config) (stop func()) {
	cfg.Interval, cfg.cpuTime, cfg.set, cfg.Bulk = 5*time.Millisecond, p.cpuTime, p.set, p.bulkBytes
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		Run(ctx, cfg)
	}()
	return func() { cancel(); <-done }
}

func TestRunAdapts(t *testing.T) {
	p := newFakeProcess(3)
	stop := p.start(Config{})
	p.waitFor(t, 1, "at start")
	p.setLoad(0.95) // one P kept busy
	p.waitFor(t, 2, "one busy P")
	p.setLoad(1.9) // both kept busy
	p.waitFor(t, 3, "two busy Ps")
	p.setLoad(2.9) // at the cap: no fourth P
	time.Sleep(50 * time.Millisecond)
	if n := p.procs.Load(); n != 3 {
		t.Fatalf("grew to %d Ps, past the runtime's 3", n)
	}
	p.setLoad(0.1)
	p.waitFor(t, 2, "load gone")
	p.waitFor(t, 1, "load gone")
	stop()
	if n := p.procs.Load(); n != 3 {
		t.Errorf("after Run: %d Ps, want the 3 it found", n)
	}
}

// TestRunBulk: bulk transfers keep two Ps however little CPU they use.
func TestRunBulk(t *testing.T) {
	p := newFakeProcess(4)
	stop := p.start(Config{})
	defer stop()
	p.waitFor(t, 1, "at start")
	p.setLoad(0.3)
	p.setBulk(2 * BulkRate)
	p.waitFor(t, 2, "bulk at 0.3 CPUs")
	time.Sleep(50 * time.Millisecond) // ten intervals
	if n := p.procs.Load(); n != 2 {
		t.Fatalf("%d Ps while bulk ran on 0.3 CPUs, want 2", n)
	}
	p.setBulk(BulkRate / 4)
	p.waitFor(t, 1, "bulk under BulkRate")
}

func TestRunWithOneCPU(t *testing.T) {
	p := newFakeProcess(1)
	returned := make(chan struct{})
	go func() {
		Run(context.Background(), Config{Interval: time.Millisecond, cpuTime: p.cpuTime, set: p.set})
		close(returned)
	}()
	select {
	case <-returned:
	case <-time.After(5 * time.Second):
		t.Fatal("Run kept running with a single CPU to give")
	}
	if len(p.seen) != 0 {
		t.Errorf("Run changed GOMAXPROCS with a single CPU (to %d)", <-p.seen)
	}
}

// TestRunHonoursMax: however busy, Run stays within Max (holding one P
// when Max is 1 on a runtime with more), then restores the runtime's value.
func TestRunHonoursMax(t *testing.T) {
	for _, max := range []int{2, 1} {
		t.Run(fmt.Sprintf("max %d", max), func(t *testing.T) {
			p := newFakeProcess(8)
			stop := p.start(Config{Max: max})
			p.waitFor(t, 1, "at start")
			p.setLoad(7)
			if max > 1 {
				p.waitFor(t, max, "busy")
			}
			time.Sleep(50 * time.Millisecond) // ten intervals
			if n := p.procs.Load(); n != int64(max) {
				t.Errorf("%d Ps with Max %d", n, max)
			}
			stop()
			if n := p.procs.Load(); n != 8 {
				t.Errorf("after Run: %d Ps, want the 8 it found", n)
			}
		})
	}
}

func TestProcessCPU(t *testing.T) {
	before := processCPU()
	deadline := time.Now().Add(50 * time.Millisecond)
	x := 0
	for time.Now().Before(deadline) {
		x++
	}
	if after := processCPU(); after <= before {
		t.Errorf("process CPU time did not grow while spinning (%v, then %v; %d loops)", before, after, x)
	}
}
