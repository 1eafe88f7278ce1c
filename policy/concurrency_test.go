package policy

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
)

// TestConcurrentChecksAndReloads runs sessions on several goroutines while
// the policy data changes (run with -race). Invariants that hold under
// every policy version must hold throughout, and after the last change
// every session must follow it.
func TestConcurrentChecksAndReloads(t *testing.T) {
	e := mustEngine(t, Config{CacheSize: 64, SessionCacheSize: 8})
	dataA := map[string]any{"groups": map[string]any{"readers": []any{"readers"}}}
	dataB := map[string]any{"groups": map[string]any{"readers": []any{"analysts"}}}

	// The reloader changes the data 20 times; the workers check until it
	// is done, and at least 100 rounds each.
	const reloads = 20
	var done atomic.Bool
	var wg sync.WaitGroup
	wg.Go(func() {
		defer done.Store(true)
		for i := range reloads {
			d := dataA
			if i%2 == 1 {
				d = dataB
			}
			if err := e.SetData(context.Background(), d); err != nil {
				t.Errorf("SetData: %v", err)
				return
			}
		}
	})

	const workers = 4
	var work sync.WaitGroup
	for w := range workers {
		work.Go(func() {
			admin := e.Session(ctxFor([]string{"admins"}, "production"))
			reader := e.Session(ctxFor([]string{"readers"}, "production"))
			for i := 0; i < 100 || !done.Load(); i++ {
				table := fmt.Sprintf("t%d", (i+w)%40)
				sel := fmt.Sprintf("SELECT * FROM %s WHERE id = %d", table, i)
				if r, err := admin.Check(context.Background(), sel, SCSOn); err != nil || !r.Allowed() {
					t.Errorf("admin %q: %+v, %v", sel, r.Decision, err)
					return
				}
				drop := fmt.Sprintf("DROP TABLE %s", table)
				if r, _ := admin.Check(context.Background(), drop, SCSOn); r.Allowed() {
					t.Errorf("admin %q allowed on production", drop)
					return
				}
				if r, _ := reader.Check(context.Background(), "DELETE FROM "+table+" WHERE id = 1", SCSOn); r.Allowed() {
					t.Error("reader delete allowed")
					return
				}
				// Allowed or not depending on the data in force.
				if _, err := reader.Check(context.Background(), sel, SCSUnknown); err != nil {
					t.Errorf("reader %q: %v", sel, err)
					return
				}
			}
		})
	}
	work.Wait()
	wg.Wait()
	if got := e.Generation(); got < reloads {
		t.Fatalf("generation %d after %d reloads", got, reloads)
	}

	for _, tc := range []struct {
		data  map[string]any
		allow bool
	}{{dataB, false}, {dataA, true}, {dataB, false}} {
		if err := e.SetData(context.Background(), tc.data); err != nil {
			t.Fatal(err)
		}
		reader := e.Session(ctxFor([]string{"readers"}, "production"))
		if r := check(t, reader, "SELECT * FROM t1 WHERE id = 5", SCSOn); r.Allowed() != tc.allow {
			t.Fatalf("after SetData(%v): got %+v, want allow=%v", tc.data, r.Decision, tc.allow)
		}
	}
}
