package approval

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/interlock-dev/interlock/daemon/audit"
)

// Approve approves a pending request as by. The rules, without override:
// by is authenticated (has a subject), is not the requester, and is in one
// of the request's approver groups; the request has not expired and is
// still pending. Of two racing approvers exactly one wins; the other gets
// ErrDecided. The approval record is in the audit chain before the
// approval can be used.
func (s *Service) Approve(ctx context.Context, id string, by Actor, comment string) (*Request, error) {
	if err := checkText("comment", comment); err != nil {
		return nil, err
	}
	r, err := s.cfg.Store.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := mayDecide(r, by); err != nil {
		return nil, err
	}
	now := s.now()
	if err := checkOpen(r, now); err != nil {
		return nil, err
	}
	done, err := s.decide(ctx, r, transition{
		from: StatePending, to: StateApproved, live: true,
		decision:  Decision{By: by, At: now, Comment: comment},
		expiresAt: now.Add(s.cfg.ApprovedTTL),
		record: func(b *audit.Body, r *Request) {
			s.approvalRecord(b, r, now.Add(s.cfg.ApprovedTTL))
		},
	})
	if err != nil {
		return nil, s.decideErr(ctx, id, err)
	}
	s.log.Info("approval request approved", "request_id", id, "requester", done.Requester.Subject, "approver", by.Subject, "via", by.Via)
	return done, nil
}

// Reject rejects a pending request as by, with a reason (required). The
// rules are Approve's, with one addition: when by is the requester, the
// request is withdrawn instead (a requester may take back their own
// request, never decide it).
func (s *Service) Reject(ctx context.Context, id string, by Actor, reason string) (*Request, error) {
	if err := checkText("reason", reason); err != nil {
		return nil, err
	}
	if reason == "" {
		return nil, fmt.Errorf("%w: a rejection needs a reason", ErrBadRequest)
	}
	r, err := s.cfg.Store.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if by.Subject != "" && by.Subject == r.Requester.Subject {
		return s.withdraw(ctx, r, by, reason)
	}
	if err := mayDecide(r, by); err != nil {
		return nil, err
	}
	now := s.now()
	if err := checkOpen(r, now); err != nil {
		return nil, err
	}
	done, err := s.decide(ctx, r, transition{
		from: StatePending, to: StateRejected, live: true,
		decision: Decision{By: by, At: now, Comment: reason},
		record:   func(b *audit.Body, r *Request) { s.rejectionRecord(b, r) },
	})
	if err != nil {
		return nil, s.decideErr(ctx, id, err)
	}
	s.log.Info("approval request rejected", "request_id", id, "requester", done.Requester.Subject, "by", by.Subject, "via", by.Via)
	return done, nil
}

// Withdraw takes back a pending or approved (unused) request on behalf of
// the requester's session, e.g. when the client cancels the held
// statement. A request already decided otherwise is returned unchanged
// with ErrDecided.
func (s *Service) Withdraw(ctx context.Context, id, reason string) (*Request, error) {
	if err := checkText("reason", reason); err != nil {
		return nil, err
	}
	r, err := s.cfg.Store.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	by := Actor{Issuer: r.Requester.Issuer, Subject: r.Requester.Subject, Email: r.Requester.Email, Via: ViaSession}
	return s.withdraw(ctx, r, by, reason)
}

func (s *Service) withdraw(ctx context.Context, r *Request, by Actor, reason string) (*Request, error) {
	for range 3 { // pending → approved races with us at most twice
		if r.State != StatePending && r.State != StateApproved {
			return r, fmt.Errorf("withdraw approval request %s: it is %s: %w", r.ID, r.State, ErrDecided)
		}
		now := s.now()
		done, err := s.decide(ctx, r, transition{
			from: r.State, to: StateWithdrawn,
			decision: Decision{By: by, At: now, Comment: reason},
			record:   func(b *audit.Body, cur *Request) { s.withdrawalRecord(b, cur, r.State) },
		})
		if err == nil {
			s.log.Info("approval request withdrawn", "request_id", r.ID, "by", by.Subject, "via", by.Via, "was", r.State)
			return done, nil
		}
		if !errors.Is(err, ErrConflict) || done == nil {
			return nil, err
		}
		r = done
		if r.State == StateDeciding {
			// Someone is committing a decision; wait for it briefly.
			if r, err = s.settle(ctx, r.ID); err != nil {
				return nil, err
			}
		}
	}
	return r, fmt.Errorf("withdraw approval request %s: %w", r.ID, ErrConflict)
}

// settle waits (bounded) until a request leaves deciding.
func (s *Service) settle(ctx context.Context, id string) (*Request, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	changed, unsubscribe := s.cfg.Store.Subscribe(id)
	defer unsubscribe()
	for {
		r, err := s.cfg.Store.Get(ctx, id)
		if err != nil || r.State != StateDeciding {
			return r, err
		}
		select {
		case <-ctx.Done():
			return r, nil
		case <-changed:
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// expire moves a pending or approved request past its deadline to expired.
func (s *Service) expire(ctx context.Context, r *Request, reason string) (*Request, error) {
	now := s.now()
	from := r.State
	done, err := s.decide(ctx, r, transition{
		from: from, to: StateExpired, due: true,
		decision: Decision{By: Actor{Via: ViaSystem}, At: now, Comment: reason},
		record:   func(b *audit.Body, cur *Request) { s.expiryRecord(b, cur, from, reason, now) },
	})
	if err == nil {
		s.log.Info("approval request expired", "request_id", r.ID, "was", from, "reason", reason)
	}
	return done, err
}

// mayDecide applies the identity rules of Approve and Reject.
func mayDecide(r *Request, by Actor) error {
	switch {
	case by.Subject == "":
		return fmt.Errorf("decide approval request %s: %w", r.ID, ErrUnauthenticated)
	case by.Subject == r.Requester.Subject:
		return fmt.Errorf("decide approval request %s: %s requested it: %w", r.ID, by.Subject, ErrSelfApproval)
	case !memberOfAny(by.Groups, r.ApproverGroups):
		return fmt.Errorf("decide approval request %s: approvers are members of %v: %w", r.ID, r.ApproverGroups, ErrNotApprover)
	}
	return nil
}

func memberOfAny(groups, wanted []string) bool {
	for _, g := range groups {
		if slices.Contains(wanted, g) {
			return true
		}
	}
	return false
}

// checkOpen refuses decisions on requests that are not pending or expired.
func checkOpen(r *Request, now time.Time) error {
	switch {
	case r.State == StateDeciding:
		return fmt.Errorf("approval request %s is being decided by someone else: %w", r.ID, ErrDecided)
	case r.State != StatePending:
		return fmt.Errorf("approval request %s is already %s: %w", r.ID, r.State, ErrDecided)
	case !r.ExpiresAt.After(now):
		return fmt.Errorf("approval request %s expired at %s: %w", r.ID, r.ExpiresAt.Format(time.RFC3339), ErrExpired)
	}
	return nil
}

// decideErr explains a lost race: the request's state now.
func (s *Service) decideErr(ctx context.Context, id string, err error) error {
	if !errors.Is(err, ErrConflict) {
		return err
	}
	r, gerr := s.cfg.Store.Get(ctx, id)
	if gerr != nil {
		return err
	}
	if cerr := checkOpen(r, s.now()); cerr != nil {
		return cerr
	}
	return err
}

// transition is one decision: from → to through deciding.
type transition struct {
	from, to State
	// live requires the deadline not to have passed; due requires it has.
	live, due bool
	decision  Decision
	// expiresAt, when set, is the new deadline (the approval window).
	expiresAt time.Time
	// record fills the audit body from the claimed request.
	record func(b *audit.Body, r *Request)
}

// decide takes a decision in three steps, so that it is atomic across
// nodes and never takes effect unrecorded:
//  1. claim: from → deciding (compare-and-set; one racer wins);
//  2. write the audit record; on failure put the request back (from) and
//     return ErrAudit;
//  3. commit: deciding → to.
//
// A conflict in step 1 returns the current request with ErrConflict.
// Steps 2 and 3 run even if ctx ends, so a claim is never left behind.
func (s *Service) decide(ctx context.Context, prev *Request, t transition) (*Request, error) {
	now := s.now()
	claim := Update{ID: prev.ID, From: t.from, To: StateDeciding, Decision: &t.decision}
	if t.live {
		claim.LiveAt = now
	}
	if t.due {
		claim.DueAt = now
	}
	claimed, err := s.cfg.Store.Update(ctx, claim)
	if err != nil {
		return claimed, err
	}
	ctx = context.WithoutCancel(ctx)
	var b audit.Body
	t.record(&b, claimed)
	if werr := s.cfg.Audit.Write(b); werr != nil {
		back := Update{ID: prev.ID, From: StateDeciding, To: t.from, Decision: prev.Decision, ClearDecision: prev.Decision == nil}
		if _, rerr := s.cfg.Store.Update(ctx, back); rerr != nil {
			s.log.Error("approval decision claimed but not recorded, and the claim could not be released; the sweeper expires it",
				"request_id", prev.ID, "audit_err", werr, "err", rerr)
		}
		return nil, fmt.Errorf("decide approval request %s: %w: %v", prev.ID, ErrAudit, werr)
	}
	done, err := s.cfg.Store.Update(ctx, Update{ID: prev.ID, From: StateDeciding, To: t.to, ExpiresAt: t.expiresAt})
	if err != nil {
		return nil, fmt.Errorf("commit decision on approval request %s (its audit record is written): %w", prev.ID, err)
	}
	return done, nil
}
