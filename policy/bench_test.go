package policy

import (
	"context"
	"fmt"
	"testing"
)

// pgbenchTexts returns n pgbench -S statements with different constants.
func pgbenchTexts(n int) []string {
	texts := make([]string, n)
	for i := range texts {
		texts[i] = fmt.Sprintf("SELECT abalance FROM pgbench_accounts WHERE aid = %d;", (i*7919)%100000+1)
	}
	return texts
}

// BenchmarkCheckHit is the hot path: a statement seen before in the
// session with a different constant. Target: ≤ 1 µs, 0 allocations.
func BenchmarkCheckHit(b *testing.B) {
	for _, bc := range []struct {
		name string
		fmt  string
		scs  SCS
	}{
		{"select", "SELECT abalance FROM pgbench_accounts WHERE aid = %d;", SCSOn},
		{"update", "UPDATE pgbench_accounts SET abalance = abalance + %d WHERE aid = 42;", SCSOn},
		{"select-scs-unknown", "SELECT abalance FROM pgbench_accounts WHERE aid = %d;", SCSUnknown},
	} {
		b.Run(bc.name, func(b *testing.B) {
			e := mustEngine(b, Config{})
			s := e.Session(ctxFor([]string{"writers"}, "dev"))
			texts := make([]string, 1024)
			for i := range texts {
				texts[i] = fmt.Sprintf(bc.fmt, (i*7919)%100000+1)
			}
			if r := check(b, s, texts[0], bc.scs); !r.Allowed() {
				b.Fatalf("denied: %+v", r.Decision)
			}
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				r, _ := s.Check(ctx, texts[i&1023], bc.scs)
				if !r.Cached {
					b.Fatal("cache miss")
				}
			}
		})
	}
}

// BenchmarkCheckMiss is a statement never seen before: analysis and
// policy evaluation.
func BenchmarkCheckMiss(b *testing.B) {
	e := mustEngine(b, Config{})
	s := e.Session(ctxFor([]string{"readers"}, "dev"))
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		text := fmt.Sprintf("SELECT abalance FROM pgbench_accounts_%d WHERE aid = 1;", i)
		b.StartTimer()
		r, _ := s.Check(ctx, text, SCSOn)
		if r.Cached {
			b.Fatal("cache hit")
		}
	}
}

// BenchmarkCheckSharedDecision is the first statement of a new session
// whose context shares decisions with an earlier one: the memo misses,
// the analysis and decision caches hit, and the session's context key is
// computed (once per session and policy generation).
func BenchmarkCheckSharedDecision(b *testing.B) {
	e := mustEngine(b, Config{})
	texts := pgbenchTexts(1024)
	check(b, e.Session(ctxFor([]string{"readers"}, "dev")), texts[0], SCSOn)
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		s := e.Session(ctxFor([]string{"readers"}, "dev"))
		b.StartTimer()
		if r, _ := s.Check(ctx, texts[i&1023], SCSOn); !r.Cached {
			b.Fatal("cache miss")
		}
	}
}

// TestCheckHitAllocs keeps the hot path allocation-free.
func TestCheckHitAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	e := mustEngine(t, Config{})
	s := e.Session(ctxFor([]string{"readers"}, "dev"))
	texts := pgbenchTexts(64)
	check(t, s, texts[0], SCSOn)
	ctx := context.Background()
	i := 0
	for _, scs := range []SCS{SCSOn, SCSUnknown} {
		allocs := testing.AllocsPerRun(200, func() {
			i++
			if r, _ := s.Check(ctx, texts[i&63], scs); !r.Cached {
				t.Fatal("cache miss")
			}
		})
		if allocs != 0 {
			t.Fatalf("scs %v: a cache hit allocates %.1f times, want 0", scs, allocs)
		}
	}
}
