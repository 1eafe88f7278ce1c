package approval

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/interlock-dev/interlock/daemon/audit"
	"github.com/interlock-dev/interlock/testenv"
)

// TestApproveFlow: bob's statement is held, Wait returns when alice
// approves, Consume runs it once, and the chain holds both records.
func TestApproveFlow(t *testing.T) {
	storeKinds(t, func(t *testing.T, newStore func(*testing.T) Store) {
		a := newTrail(t)
		s := newService(t, newStore(t), a, nil)
		ctx := testCtx(t)
		n := deleteReq("5")
		r := mustRequest(t, s, n)
		if r.State != StatePending || r.Node != "node-a" || len(r.ID) != 16 || !r.Binding.Equal(n.Binding()) {
			t.Fatalf("new request %+v", r)
		}
		if got := r.ExpiresAt.Sub(r.CreatedAt); got != DefaultTimeout {
			t.Errorf("default timeout %s, want %s", got, DefaultTimeout)
		}
		waiting := waitAsync(ctx, s, r.ID)
		approved, err := s.Approve(ctx, r.ID, alice, "checked the ticket")
		if err != nil {
			t.Fatalf("approve: %v", err)
		}
		if approved.State != StateApproved || approved.Decision.By.Subject != "alice" || approved.Decision.Comment != "checked the ticket" {
			t.Errorf("approved %+v", approved)
		}
		w := recv(t, waiting, 10*time.Second)
		if w.err != nil || w.r.State != StateApproved {
			t.Fatalf("wait: %+v %v", w.r, w.err)
		}
		used, err := s.Consume(ctx, r.ID, n.Binding())
		if err != nil || used.State != StateConsumed || used.ConsumedAt.IsZero() {
			t.Fatalf("consume: %+v %v", used, err)
		}
		if _, err := s.Consume(ctx, r.ID, n.Binding()); !errors.Is(err, ErrNotApproved) {
			t.Errorf("second consume: %v, want ErrNotApproved", err)
		}

		reqs := forRequest(a.records(t, audit.TypeApprovalRequest), r.ID)
		if len(reqs) != 1 {
			t.Fatalf("%d approval_request records, want 1", len(reqs))
		}
		rec := reqs[0]
		for k, want := range map[string]any{
			"requester": "bob", "endpoint": "prod", "database": "app", "statement": n.Statement,
			"binding": r.Binding.String(), "comm": "psql", "mode": "blocking", "reason": n.Reason, "params": 1.0,
		} {
			if rec[k] != want {
				t.Errorf("approval_request %s = %v, want %v", k, rec[k], want)
			}
		}
		if g, _ := rec["approver_groups"].([]any); len(g) != 1 || g[0] != "dba" {
			t.Errorf("approver_groups %v", rec["approver_groups"])
		}
		apps := forRequest(a.records(t, audit.TypeApproval), r.ID)
		if len(apps) != 1 || apps[0]["approver"] != "alice" || apps[0]["requester"] != "bob" || apps[0]["comment"] != "checked the ticket" ||
			apps[0]["binding"] != r.Binding.String() {
			t.Errorf("approval records %v", apps)
		}

		var b audit.Body
		b.Reset(audit.TypeStatement)
		used.AppendAudit(&b)
		if err := a.Write(b); err != nil {
			t.Fatal(err)
		}
		st := a.records(t, audit.TypeStatement)
		if len(st) != 1 || st[0]["approval_id"] != r.ID || st[0]["approved_by"] != "alice" || st[0]["approval_binding"] != r.Binding.String() {
			t.Errorf("statement record %v", st)
		}
	})
}

// TestRules: the identity rules have no exception.
func TestRules(t *testing.T) {
	storeKinds(t, func(t *testing.T, newStore func(*testing.T) Store) {
		a := newTrail(t)
		s := newService(t, newStore(t), a, nil)
		ctx := testCtx(t)
		adminReq := deleteReq("1")
		adminReq.Requester = requester(alice) // alice is a DBA herself

		tests := []struct {
			name    string
			n       NewRequest
			do      func(id string) (*Request, error)
			wantErr error
			state   State
		}{
			{"self-approval by an approver-group member", adminReq, func(id string) (*Request, error) { return s.Approve(ctx, id, alice, "") }, ErrSelfApproval, StatePending},
			{"self-rejection is a withdrawal", adminReq, func(id string) (*Request, error) { return s.Reject(ctx, id, alice, "changed my mind") }, nil, StateWithdrawn},
			{"non-member approves", deleteReq("1"), func(id string) (*Request, error) { return s.Approve(ctx, id, carol, "") }, ErrNotApprover, StatePending},
			{"non-member rejects", deleteReq("1"), func(id string) (*Request, error) { return s.Reject(ctx, id, carol, "no") }, ErrNotApprover, StatePending},
			{"no identity", deleteReq("1"), func(id string) (*Request, error) { return s.Approve(ctx, id, Actor{Groups: []string{"dba"}}, "") }, ErrUnauthenticated, StatePending},
			{"rejection without reason", deleteReq("1"), func(id string) (*Request, error) { return s.Reject(ctx, id, alice, "") }, ErrBadRequest, StatePending},
			{"comment with NUL", deleteReq("1"), func(id string) (*Request, error) { return s.Approve(ctx, id, alice, "a\x00b") }, ErrBadRequest, StatePending},
			{"rejection", deleteReq("1"), func(id string) (*Request, error) { return s.Reject(ctx, id, dave, "not during business hours") }, nil, StateRejected},
			{"unknown id", deleteReq("1"), func(string) (*Request, error) { return s.Approve(ctx, "nosuchrequest", alice, "") }, ErrNotFound, StatePending},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				r := mustRequest(t, s, tc.n)
				got, err := tc.do(r.ID)
				if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
					t.Fatalf("got %v, want %v", err, tc.wantErr)
				}
				if err == nil && got.State != tc.state {
					t.Errorf("returned state %s, want %s", got.State, tc.state)
				}
				cur, err := s.Get(ctx, r.ID)
				if err != nil || cur.State != tc.state {
					t.Fatalf("stored state %v %v, want %s", cur, err, tc.state)
				}
				if tc.state == StatePending && cur.Decision != nil {
					t.Errorf("a refused decision left %+v", cur.Decision)
				}
				// Nothing approves a request the rules refused.
				if _, err := s.Consume(ctx, r.ID, tc.n.Binding()); !errors.Is(err, ErrNotApproved) {
					t.Errorf("consume after %s: %v, want ErrNotApproved", tc.name, err)
				}
			})
		}
		if got := len(a.records(t, audit.TypeApproval)); got != 0 {
			t.Errorf("%d approval records, want none", got)
		}
		if rej := a.records(t, audit.TypeRejection); len(rej) != 1 || rej[0]["rejected_by"] != "dave" || rej[0]["reason"] != "not during business hours" {
			t.Errorf("rejection records %v", rej)
		}
		if wd := a.records(t, TypeWithdrawal); len(wd) != 1 || wd[0]["withdrawn_by"] != "alice" || wd[0]["via"] != ViaAPI {
			t.Errorf("withdrawal records %v", wd)
		}

		t.Run("decided requests stay decided", func(t *testing.T) {
			r := mustRequest(t, s, deleteReq("2"))
			if _, err := s.Reject(ctx, r.ID, dave, "no"); err != nil {
				t.Fatal(err)
			}
			for _, act := range []func() error{
				func() error { _, err := s.Approve(ctx, r.ID, alice, ""); return err },
				func() error { _, err := s.Reject(ctx, r.ID, alice, "again"); return err },
				func() error { _, err := s.Withdraw(ctx, r.ID, "client cancelled"); return err },
			} {
				if err := act(); !errors.Is(err, ErrDecided) {
					t.Errorf("after rejection: %v, want ErrDecided", err)
				}
			}
		})
	})
}

func TestRequestValidation(t *testing.T) {
	s := newService(t, mustLocal(t), newTrail(t), func(c *Config) { c.MaxHeldBytes = 100 })
	mod := func(f func(*NewRequest)) NewRequest {
		n := deleteReq("1")
		f(&n)
		return n
	}
	for name, n := range map[string]NewRequest{
		"no approver groups": mod(func(n *NewRequest) { n.ApproverGroups = nil }),
		"empty group":        mod(func(n *NewRequest) { n.ApproverGroups = []string{""} }),
		"no subject":         mod(func(n *NewRequest) { n.Requester.Subject = "" }),
		"no endpoint":        mod(func(n *NewRequest) { n.Endpoint = "" }),
		"no statement":       mod(func(n *NewRequest) { n.Statement = "  " }),
		"too large":          mod(func(n *NewRequest) { n.Params.Values[0] = make([]byte, 100) }),
		"bad formats":        mod(func(n *NewRequest) { n.Params.Formats = []int16{0, 1} }),
		"bad format code":    mod(func(n *NewRequest) { n.Params.Formats = []int16{7} }),
		"unknown mode":       mod(func(n *NewRequest) { n.Mode = "maybe" }),
	} {
		if _, err := s.Request(testCtx(t), n); !errors.Is(err, ErrBadRequest) {
			t.Errorf("%s: %v, want ErrBadRequest", name, err)
		}
	}
	r := mustRequest(t, s, mod(func(n *NewRequest) { n.Timeout = 100 * time.Hour }))
	if got := r.ExpiresAt.Sub(r.CreatedAt); got != DefaultMaxTimeout {
		t.Errorf("timeout capped at %s, want %s", got, DefaultMaxTimeout)
	}
}

func mustLocal(t *testing.T) *LocalStore {
	t.Helper()
	s, err := NewLocalStore(testCtx(t), LocalConfig{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestBindingMismatch: an approval covers exactly the approved execution.
func TestBindingMismatch(t *testing.T) {
	storeKinds(t, func(t *testing.T, newStore func(*testing.T) Store) {
		s := newService(t, newStore(t), newTrail(t), nil)
		ctx := testCtx(t)
		n := deleteReq("5")
		r := mustRequest(t, s, n)
		if _, err := s.Approve(ctx, r.ID, alice, ""); err != nil {
			t.Fatal(err)
		}
		other := func(f func(*NewRequest)) Binding {
			m := deleteReq("5")
			f(&m)
			return m.Binding()
		}
		for name, b := range map[string]Binding{
			"$1 = 6":          other(func(m *NewRequest) { m.Params.Values[0] = []byte("6") }),
			"another text":    other(func(m *NewRequest) { m.Statement = "DELETE FROM orders WHERE id = $1 OR true" }),
			"another db":      other(func(m *NewRequest) { m.Database = "app2" }),
			"another target":  other(func(m *NewRequest) { m.Endpoint = "staging" }),
			"another person":  other(func(m *NewRequest) { m.Requester = requester(carol) }),
			"binary format":   other(func(m *NewRequest) { m.Params.Formats = []int16{1} }),
			"NULL":            other(func(m *NewRequest) { m.Params.Values[0] = nil }),
			"declared type":   other(func(m *NewRequest) { m.Params.Types = []uint32{23} }),
			"simple protocol": other(func(m *NewRequest) { m.Params = nil }),
		} {
			if _, err := s.Consume(ctx, r.ID, b); !errors.Is(err, ErrBindingMismatch) {
				t.Errorf("%s: %v, want ErrBindingMismatch", name, err)
			}
			if _, err := s.FindApproved(ctx, "bob", b); !errors.Is(err, ErrNotFound) {
				t.Errorf("find approved %s: %v, want ErrNotFound", name, err)
			}
		}
		// The mismatches did not use the approval up.
		if _, err := s.Consume(ctx, r.ID, n.Binding()); err != nil {
			t.Errorf("consume with the approved binding: %v", err)
		}
	})
}

func TestBindingOf(t *testing.T) {
	p := func(formats []int16, vals ...string) *Params {
		out := &Params{Formats: formats}
		for _, v := range vals {
			out.Values = append(out.Values, []byte(v))
		}
		return out
	}
	base := BindingOf("bob", "prod", "app", "SELECT $1, $2", p(nil, "a", "b"))
	same := []*Params{p([]int16{0}, "a", "b"), p([]int16{0, 0}, "a", "b")}
	for _, q := range same {
		if got := BindingOf("bob", "prod", "app", "SELECT $1, $2", q); got != base {
			t.Errorf("formats %v: binding differs though the formats mean the same", q.Formats)
		}
	}
	differ := map[string]Binding{
		"field boundary": BindingOf("bo", "bprod", "app", "SELECT $1, $2", p(nil, "a", "b")),
		"value boundary": BindingOf("bob", "prod", "app", "SELECT $1, $2", p(nil, "ab", "")),
		"empty vs NULL":  BindingOf("bob", "prod", "app", "SELECT $1, $2", &Params{Values: [][]byte{[]byte("a"), nil}}),
		"no params":      BindingOf("bob", "prod", "app", "SELECT $1, $2", &Params{}),
	}
	seen := map[Binding]string{base: "base"}
	for name, b := range differ {
		if prev, ok := seen[b]; ok {
			t.Errorf("%s hashes like %s", name, prev)
		}
		seen[b] = name
	}
	if BindingOf("bob", "prod", "app", "SELECT 1", nil) == BindingOf("bob", "prod", "app", "SELECT 1", &Params{}) {
		t.Error("a simple query hashes like an extended one without parameters")
	}
}

// TestRacingApprovers: of many concurrent decisions exactly one wins,
// and the chain records exactly one.
func TestRacingApprovers(t *testing.T) {
	storeKinds(t, func(t *testing.T, newStore func(*testing.T) Store) {
		a := newTrail(t)
		store := newStore(t)
		s1 := newService(t, store, a, nil)
		s2 := newService(t, store, a, func(c *Config) { c.Node = "node-b" })
		ctx := testCtx(t)
		for round := range 5 {
			r := mustRequest(t, s1, deleteReq("race"))
			var wg sync.WaitGroup
			results := make(chan error, 8)
			for i := range 8 {
				wg.Go(func() {
					svc, who := s1, alice
					if i%2 == 1 {
						svc, who = s2, dave
					}
					var err error
					if i%4 == 3 {
						_, err = svc.Reject(ctx, r.ID, who, "racing")
					} else {
						_, err = svc.Approve(ctx, r.ID, who, "racing")
					}
					results <- err
				})
			}
			wg.Wait()
			close(results)
			wins := 0
			for err := range results {
				switch {
				case err == nil:
					wins++
				case !errors.Is(err, ErrDecided):
					t.Errorf("round %d: loser got %v, want ErrDecided", round, err)
				}
			}
			if wins != 1 {
				t.Errorf("round %d: %d decisions won, want exactly 1", round, wins)
			}
			decided := len(forRequest(a.records(t, audit.TypeApproval), r.ID)) + len(forRequest(a.records(t, audit.TypeRejection), r.ID))
			if decided != 1 {
				t.Errorf("round %d: %d decision records, want 1", round, decided)
			}
		}
	})
}

// TestConsumeRace: concurrent uses of one approval: exactly one runs.
func TestConsumeRace(t *testing.T) {
	storeKinds(t, func(t *testing.T, newStore func(*testing.T) Store) {
		s := newService(t, newStore(t), newTrail(t), nil)
		ctx := testCtx(t)
		n := deleteReq("7")
		r := mustRequest(t, s, n)
		if _, err := s.Approve(ctx, r.ID, alice, ""); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		ok := 0
		for range 8 {
			wg.Go(func() {
				if _, err := s.Consume(ctx, r.ID, n.Binding()); err == nil {
					mu.Lock()
					ok++
					mu.Unlock()
				} else if !errors.Is(err, ErrNotApproved) {
					t.Errorf("losing consume: %v", err)
				}
			})
		}
		wg.Wait()
		if ok != 1 {
			t.Errorf("%d consumes succeeded, want 1", ok)
		}
	})
}

// TestExpiry: Wait expires a request at its deadline; the sweeper expires
// those nobody waits on and approvals not used in time.
func TestExpiry(t *testing.T) {
	storeKinds(t, func(t *testing.T, newStore func(*testing.T) Store) {
		a := newTrail(t)
		s := newService(t, newStore(t), a, func(c *Config) {
			c.SweepInterval = 50 * time.Millisecond
			c.ApprovedTTL = 300 * time.Millisecond
		})
		ctx := testCtx(t)

		t.Run("waited on", func(t *testing.T) {
			n := deleteReq("1")
			n.Timeout = 300 * time.Millisecond
			r := mustRequest(t, s, n)
			start := time.Now()
			w := recv(t, waitAsync(ctx, s, r.ID), 10*time.Second)
			if w.err != nil || w.r.State != StateExpired {
				t.Fatalf("wait: %+v %v, want expired", w.r, w.err)
			}
			if d := time.Since(start); d < 250*time.Millisecond {
				t.Errorf("expired after %s, before its 300ms timeout", d)
			}
			if _, err := s.Approve(ctx, r.ID, alice, ""); !errors.Is(err, ErrDecided) {
				t.Errorf("approve after expiry: %v, want ErrDecided", err)
			}
			exp := forRequest(a.records(t, audit.TypeExpiry), r.ID)
			if len(exp) != 1 || exp[0]["was"] != "pending" {
				t.Errorf("expiry records %v", exp)
			}
		})
		t.Run("expired but not yet swept", func(t *testing.T) {
			// A request past its deadline cannot be approved even before
			// anyone marked it expired.
			n := deleteReq("2")
			n.Timeout = time.Millisecond
			r := mustRequest(t, s, n)
			testenv.WaitFor(t, time.Second, "the 1ms deadline to pass", func() bool { return time.Now().After(r.ExpiresAt) })
			if _, err := s.Approve(ctx, r.ID, alice, ""); !errors.Is(err, ErrExpired) && !errors.Is(err, ErrDecided) {
				t.Errorf("approve past the deadline: %v, want ErrExpired", err)
			}
			if got, _ := s.Get(ctx, r.ID); got.State == StateApproved {
				t.Error("a request past its deadline was approved")
			}
		})
		t.Run("swept", func(t *testing.T) {
			n := deleteReq("3")
			n.Timeout = 100 * time.Millisecond
			r := mustRequest(t, s, n)
			testenv.WaitFor(t, 10*time.Second, "the sweeper to expire the request", func() bool {
				got, err := s.Get(ctx, r.ID)
				return err == nil && got.State == StateExpired
			})
		})
		t.Run("approval not used", func(t *testing.T) {
			n := deleteReq("4")
			n.Mode = ModeNonBlocking
			r := mustRequest(t, s, n)
			if _, err := s.Approve(ctx, r.ID, alice, ""); err != nil {
				t.Fatal(err)
			}
			testenv.WaitFor(t, 10*time.Second, "the unused approval to expire", func() bool {
				got, err := s.Get(ctx, r.ID)
				return err == nil && got.State == StateExpired
			})
			if _, err := s.FindApproved(ctx, "bob", n.Binding()); !errors.Is(err, ErrNotFound) {
				t.Errorf("find approved after expiry: %v", err)
			}
			if _, err := s.Consume(ctx, r.ID, n.Binding()); !errors.Is(err, ErrNotApproved) {
				t.Errorf("consume after expiry: %v", err)
			}
			exp := forRequest(a.records(t, audit.TypeExpiry), r.ID)
			if len(exp) != 1 || exp[0]["was"] != "approved" {
				t.Errorf("expiry records %v", exp)
			}
		})
	})
}

// TestWithdraw: the client's cancel withdraws a pending or approved request.
func TestWithdraw(t *testing.T) {
	storeKinds(t, func(t *testing.T, newStore func(*testing.T) Store) {
		a := newTrail(t)
		s := newService(t, newStore(t), a, nil)
		ctx := testCtx(t)

		r := mustRequest(t, s, deleteReq("1"))
		other := waitAsync(ctx, s, r.ID) // e.g. a second waiter
		got, err := s.Withdraw(ctx, r.ID, "client cancelled the statement")
		if err != nil || got.State != StateWithdrawn || got.Decision.By.Via != ViaSession || got.Decision.By.Subject != "bob" {
			t.Fatalf("withdraw: %+v %v", got, err)
		}
		if w := recv(t, other, 10*time.Second); w.err != nil || w.r.State != StateWithdrawn {
			t.Errorf("waiter: %+v %v", w.r, w.err)
		}
		if _, err := s.Approve(ctx, r.ID, alice, ""); !errors.Is(err, ErrDecided) {
			t.Errorf("approve after withdrawal: %v", err)
		}
		wd := forRequest(a.records(t, TypeWithdrawal), r.ID)
		if len(wd) != 1 || wd[0]["was"] != "pending" || wd[0]["via"] != ViaSession {
			t.Errorf("withdrawal records %v", wd)
		}

		n := deleteReq("2")
		r = mustRequest(t, s, n)
		if _, err := s.Approve(ctx, r.ID, alice, ""); err != nil {
			t.Fatal(err)
		}
		if got, err := s.Withdraw(ctx, r.ID, "client went away"); err != nil || got.State != StateWithdrawn {
			t.Fatalf("withdraw an approval: %+v %v", got, err)
		}
		if _, err := s.Consume(ctx, r.ID, n.Binding()); !errors.Is(err, ErrNotApproved) {
			t.Errorf("consume after withdrawal: %v", err)
		}
	})
}

// TestNonBlocking: approved, the identical re-run is found and runs once.
func TestNonBlocking(t *testing.T) {
	storeKinds(t, func(t *testing.T, newStore func(*testing.T) Store) {
		s := newService(t, newStore(t), newTrail(t), nil)
		ctx := testCtx(t)
		n := deleteReq("9")
		n.Mode = ModeNonBlocking
		r := mustRequest(t, s, n)
		if _, err := s.FindApproved(ctx, "bob", n.Binding()); !errors.Is(err, ErrNotFound) {
			t.Errorf("find before approval: %v", err)
		}
		if _, err := s.Approve(ctx, r.ID, dave, "ok"); err != nil {
			t.Fatal(err)
		}
		// The re-run computes the binding from what it holds.
		rerun := BindingOf("bob", "prod", "app", "DELETE FROM orders WHERE id = $1", &Params{Formats: []int16{0}, Values: [][]byte{[]byte("9")}})
		found, err := s.FindApproved(ctx, "bob", rerun)
		if err != nil || found.ID != r.ID {
			t.Fatalf("find approved: %+v %v", found, err)
		}
		if _, err := s.Consume(ctx, found.ID, rerun); err != nil {
			t.Fatalf("consume: %v", err)
		}
		if _, err := s.FindApproved(ctx, "bob", rerun); !errors.Is(err, ErrNotFound) {
			t.Errorf("find after use: %v, want ErrNotFound (single use)", err)
		}
	})
}

// TestAuditFailure: nothing takes effect unrecorded.
func TestAuditFailure(t *testing.T) {
	storeKinds(t, func(t *testing.T, newStore func(*testing.T) Store) {
		a := newTrail(t)
		store := newStore(t)
		s := newService(t, store, a, nil)
		ctx := testCtx(t)

		a.fail.Store(true)
		if _, err := s.Request(ctx, deleteReq("1")); !errors.Is(err, ErrAudit) {
			t.Errorf("request with a failing audit log: %v, want ErrAudit", err)
		}
		if rs, err := store.List(ctx, Filter{}); err != nil || len(rs) != 0 {
			t.Errorf("store after refused request: %d requests, %v", len(rs), err)
		}
		a.fail.Store(false)

		n := deleteReq("2")
		r := mustRequest(t, s, n)
		a.fail.Store(true)
		if _, err := s.Approve(ctx, r.ID, alice, ""); !errors.Is(err, ErrAudit) {
			t.Errorf("approve with a failing audit log: %v, want ErrAudit", err)
		}
		cur, err := s.Get(ctx, r.ID)
		if err != nil || cur.State != StatePending || cur.Decision != nil {
			t.Fatalf("after the unrecorded approval: %+v %v, want pending without decision", cur, err)
		}
		if _, err := s.Consume(ctx, r.ID, n.Binding()); !errors.Is(err, ErrNotApproved) {
			t.Errorf("consume of an unrecorded approval: %v", err)
		}
		a.fail.Store(false)
		if _, err := s.Approve(ctx, r.ID, alice, ""); err != nil {
			t.Errorf("approve once the log works: %v", err)
		}
	})
}

func TestVisibility(t *testing.T) {
	s := newService(t, mustLocal(t), newTrail(t), nil)
	ctx := testCtx(t)
	r := mustRequest(t, s, deleteReq("1"))
	for name, tc := range map[string]struct {
		v    Viewer
		sees bool
	}{
		"root":          {Viewer{Root: true}, true},
		"requester":     {Viewer{Actor: &bob}, true},
		"approver":      {Viewer{Actor: &alice}, true},
		"non-member":    {Viewer{Actor: &carol}, false},
		"nobody":        {Viewer{}, false},
		"empty subject": {Viewer{Actor: &Actor{Groups: []string{"dba"}}}, false},
	} {
		rs, err := s.List(ctx, tc.v, false)
		if err != nil {
			t.Fatal(err)
		}
		if got := slices.ContainsFunc(rs, func(x *Request) bool { return x.ID == r.ID }); got != tc.sees {
			t.Errorf("%s sees the request: %v, want %v", name, got, tc.sees)
		}
		if _, err := s.View(ctx, tc.v, r.ID); (err == nil) != tc.sees {
			t.Errorf("%s views the request: %v", name, err)
		}
	}
}
