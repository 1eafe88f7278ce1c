package approval

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/interlock-dev/interlock/daemon/audit"
)

// ReasonAbandoned is the expiry reason of blocking requests a restarted
// node held: their sessions are gone.
const ReasonAbandoned = "abandoned: interlockd restarted while the statement was held, so the waiting session is gone"

// recover expires the pending blocking requests of this node (see New).
func (s *Service) recover(ctx context.Context) error {
	rs, err := s.cfg.Store.List(ctx, Filter{States: []State{StatePending}, Node: s.cfg.Node})
	if err != nil {
		return fmt.Errorf("approval: recover held requests: %w", err)
	}
	for _, r := range rs {
		if r.Mode != ModeBlocking {
			continue
		}
		if _, err := s.abandon(ctx, r); err != nil && !errors.Is(err, ErrConflict) {
			return fmt.Errorf("approval: expire abandoned request %s: %w", r.ID, err)
		}
	}
	return nil
}

// abandon expires a pending request whatever its deadline.
func (s *Service) abandon(ctx context.Context, r *Request) (*Request, error) {
	now := s.now()
	return s.decide(ctx, r, transition{
		from: StatePending, to: StateExpired,
		decision: Decision{By: Actor{Via: ViaSystem}, At: now, Comment: ReasonAbandoned},
		record:   func(b *audit.Body, cur *Request) { s.expiryRecord(b, cur, StatePending, ReasonAbandoned, now) },
	})
}

func (s *Service) sweepLoop(ctx context.Context) {
	t := time.NewTicker(s.cfg.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.Sweep(ctx)
		}
	}
}

// Sweep expires requests past their deadline (pending ones, unused
// approvals, and decisions a dead node claimed but never committed) and
// purges final requests older than the retention. Every node sweeps; the
// store's compare-and-set makes each expiry happen (and be recorded) once.
// New runs it periodically; it is exported for tests and tools.
func (s *Service) Sweep(ctx context.Context) {
	now := s.now()
	due, err := s.cfg.Store.List(ctx, Filter{States: []State{StatePending, StateApproved}, DueBy: now})
	if err != nil {
		s.log.Warn("approval sweep: list due requests", "err", err)
		return
	}
	for _, r := range due {
		reason := "timeout: no decision within " + r.ExpiresAt.Sub(r.CreatedAt).String()
		if r.State == StateApproved {
			reason = "approval not used within " + s.cfg.ApprovedTTL.String()
		}
		if _, err := s.expire(ctx, r, reason); err != nil && !errors.Is(err, ErrConflict) {
			s.log.Warn("approval sweep: expire", "request_id", r.ID, "err", err)
		}
	}
	stuck, err := s.cfg.Store.List(ctx, Filter{States: []State{StateDeciding}, DueBy: now.Add(-decidingGrace)})
	if err != nil {
		s.log.Warn("approval sweep: list stuck decisions", "err", err)
		return
	}
	for _, r := range stuck {
		const reason = "decision interrupted: the deciding node stopped before committing it"
		done, err := s.cfg.Store.Update(ctx, Update{ID: r.ID, From: StateDeciding, To: StateExpired, DueAt: now.Add(-decidingGrace),
			Decision: &Decision{By: Actor{Via: ViaSystem}, At: now, Comment: reason}})
		if err != nil {
			continue
		}
		var b audit.Body
		s.expiryRecord(&b, done, StateDeciding, reason, now)
		if err := s.cfg.Audit.Write(b); err != nil {
			s.log.Error("audit record of an interrupted decision not written", "request_id", r.ID, "err", err)
		}
	}
	if n, err := s.cfg.Store.Purge(ctx, now.Add(-s.cfg.Retention)); err != nil {
		s.log.Warn("approval sweep: purge", "err", err)
	} else if n > 0 {
		s.log.Debug("approval sweep: purged final requests", "count", n)
	}
}
