package approval

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/interlock-dev/interlock/daemon/audit"
)

// fakeClock is time.Now plus an offset the test moves forward.
type fakeClock struct{ offset atomic.Int64 }

func (c *fakeClock) now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *fakeClock) advance(d time.Duration) { c.offset.Add(int64(d)) }

// TestSweep: decisions a dead node claimed but never committed, approvals
// past their window, and old final requests.
func TestSweep(t *testing.T) {
	storeKinds(t, func(t *testing.T, newStore func(*testing.T) Store) {
		a := newTrail(t)
		store := newStore(t)
		var clock fakeClock
		s := newService(t, store, a, func(c *Config) {
			c.Clock = clock.now
			c.SweepInterval = time.Hour // the test sweeps itself
			c.ApprovedTTL = time.Minute
			c.Retention = time.Hour
		})
		ctx := testCtx(t)

		n := deleteReq("1")
		n.Timeout = time.Minute
		stuck := mustRequest(t, s, n)
		// A node claims the decision and dies before recording it.
		if _, err := store.Update(ctx, Update{ID: stuck.ID, From: StatePending, To: StateDeciding, Decision: &Decision{By: alice}}); err != nil {
			t.Fatal(err)
		}
		approvedN := deleteReq("2")
		approved := mustRequest(t, s, approvedN)
		if _, err := s.Approve(ctx, approved.ID, alice, ""); err != nil {
			t.Fatal(err)
		}

		clock.advance(time.Minute + time.Second)
		// Past the approval window but not swept yet: unusable all the same.
		if _, err := s.Consume(ctx, approved.ID, approvedN.Binding()); !errors.Is(err, ErrExpired) {
			t.Errorf("consume past the approval window: %v, want ErrExpired", err)
		}
		s.Sweep(ctx)
		if r, _ := s.Get(ctx, stuck.ID); r.State != StateDeciding {
			t.Errorf("a claim within its grace was expired: %s", r.State)
		}
		if r, _ := s.Get(ctx, approved.ID); r.State != StateExpired {
			t.Errorf("unused approval after sweep: %s, want expired", r.State)
		}

		clock.advance(decidingGrace)
		s.Sweep(ctx)
		if r, _ := s.Get(ctx, stuck.ID); r.State != StateExpired {
			t.Errorf("stuck claim after its grace: %s, want expired", r.State)
		}
		exp := forRequest(a.records(t, audit.TypeExpiry), stuck.ID)
		if len(exp) != 1 || exp[0]["was"] != "deciding" {
			t.Errorf("expiry records of the stuck claim: %v", exp)
		}

		clock.advance(2 * time.Hour)
		fresh := mustRequest(t, s, deleteReq("3"))
		s.Sweep(ctx)
		for _, id := range []string{stuck.ID, approved.ID} {
			if _, err := s.Get(ctx, id); !errors.Is(err, ErrNotFound) {
				t.Errorf("final request %s past the retention: %v, want purged", id, err)
			}
		}
		if r, err := s.Get(ctx, fresh.ID); err != nil || r.State != StatePending {
			t.Errorf("fresh request after purge: %v %v", r, err)
		}
	})
}
