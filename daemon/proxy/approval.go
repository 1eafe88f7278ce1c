package proxy

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/interlock-dev/interlock/daemon/approval"
	"github.com/interlock-dev/interlock/daemon/pgwire"
	"github.com/interlock-dev/interlock/policy"
)

// holding is the cancel function of a statement held for approval; a
// CancelRequest for the session withdraws the request through it.
type holding struct {
	cancel context.CancelFunc
}

// awaitApproval gets an approval for text (and params) as the policy
// requires: an unused approval of the identical statement by this person
// is consumed; otherwise a request is created and, in blocking mode, the
// statement is held until it is decided. It returns the consumed request,
// or the error the client gets.
func (sess *session) awaitApproval(ctx context.Context, text string, params *approval.Params, need *policy.Approval) (*approval.Request, *pgproto3.ErrorResponse) {
	svc := sess.srv.cfg.Approvals
	if svc == nil || need == nil {
		return nil, denial("this statement needs approval (" + reasonOf(need) + "), and approvals are not configured on this interlockd")
	}
	n := approval.NewRequest{
		Requester: approval.Requester{
			Issuer: sess.ident.Issuer, Subject: sess.ident.Subject, Email: sess.ident.Email, Groups: sess.ident.Groups,
			Origin: sess.approvalOrigin(),
		},
		Endpoint:       sess.ep.Name,
		Database:       sess.params["database"],
		Statement:      text,
		Params:         params,
		ApproverGroups: need.ApproverGroups,
		Reason:         need.Reason,
		Timeout:        need.Timeout,
		SessionID:      sess.id,
		Mode:           sess.ep.ApprovalMode,
	}
	b := n.Binding()
	// An approval of exactly this statement by this person, unused: run it.
	if r, err := svc.FindApproved(ctx, sess.ident.Subject, b); err == nil {
		if r, err := svc.Consume(ctx, r.ID, b); err == nil {
			return r, nil
		}
	}
	r, err := svc.Request(ctx, n)
	if err != nil {
		sess.log.Error("approval request", "err", err)
		return nil, denial("this statement needs approval, and the request could not be created: " + err.Error())
	}
	if n.Mode == approval.ModeNonBlocking {
		msg, detail, hint := r.RequiredError(svc.ApprovedTTL())
		e := pgwire.Error(pgwire.CodeInsufficientPrivilege, msg)
		e.Detail, e.Hint = detail, hint
		return nil, e
	}
	msg, detail, hint := r.Notice()
	sess.notify(pgwire.Notice(msg, detail, hint))
	sess.log.Info("statement held for approval", "request", r.ID)

	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	h := &holding{cancel: cancel}
	sess.held.Store(h)
	defer sess.held.Store(nil)
	stopWatch := sess.watchClient(cancel)
	id := r.ID
	r, err = svc.Wait(wctx, id)
	gone := stopWatch()
	if err != nil {
		why := "cancelled by the client"
		if gone {
			why = "the client disconnected"
		}
		if _, werr := svc.Withdraw(context.WithoutCancel(ctx), id, why); werr != nil {
			sess.log.Warn("withdraw held statement", "request", id, "err", werr)
		}
		sess.log.Info("held statement withdrawn", "request", id, "why", why)
		return nil, pgwire.Error(pgwire.CodeQueryCanceled, "canceling statement due to user request: approval request "+id+" withdrawn")
	}
	return sess.settled(ctx, r, b, gone)
}

// settled turns a decided request into the outcome for the client.
func (sess *session) settled(ctx context.Context, r *approval.Request, b approval.Binding, clientGone bool) (*approval.Request, *pgproto3.ErrorResponse) {
	svc := sess.srv.cfg.Approvals
	by, comment := "", ""
	if r.Decision != nil {
		by, comment = r.Decision.By.Subject, r.Decision.Comment
	}
	switch r.State {
	case approval.StateApproved:
		if clientGone {
			return nil, denial("the client disconnected while the statement was held")
		}
		c, err := svc.Consume(ctx, r.ID, b)
		if err != nil {
			return nil, denial("the approval of request " + r.ID + " could not be used: " + err.Error())
		}
		sess.log.Info("approved statement released", "request", r.ID, "approver", by)
		return c, nil
	case approval.StateRejected:
		return nil, denial(fmt.Sprintf("request %s was rejected by %s: %s", r.ID, by, comment))
	case approval.StateExpired:
		return nil, denial(fmt.Sprintf("request %s expired without a decision (%s)", r.ID, comment))
	case approval.StateWithdrawn:
		e := pgwire.Error(pgwire.CodeQueryCanceled, "canceling statement due to user request: approval request "+r.ID+" withdrawn")
		return nil, e
	}
	return nil, denial(fmt.Sprintf("request %s ended in state %s", r.ID, r.State))
}

func reasonOf(a *policy.Approval) string {
	if a == nil {
		return "policy"
	}
	return a.Reason
}

// approvalOrigin summarises the session's origin for approvers.
func (sess *session) approvalOrigin() *approval.Origin {
	o := &approval.Origin{Client: sess.client.RemoteAddr().String(), Auth: sess.authMode}
	if so := sess.origin; so != nil {
		o.PID, o.UID, o.Comm, o.Exe, o.Cgroup = so.PID, so.UID, so.Comm, so.Exe, so.Cgroup
	}
	return o
}

// notify sends an asynchronous NoticeResponse to the client now.
func (sess *session) notify(n *pgproto3.NoticeResponse) {
	if sess.rec != nil {
		sess.rec.Notice(n.Message)
	}
	sess.cwMu.Lock()
	_ = sess.cw.Send(n)
	_ = sess.cw.Flush()
	sess.cwMu.Unlock()
}

// watchClient watches the client connection while a statement is held: if
// the client disconnects, cancel is called. Data the client sends meanwhile
// stays buffered in the Reader. stop ends the watch and reports whether the
// client is gone.
func (sess *session) watchClient(cancel context.CancelFunc) (stop func() bool) {
	if sess.cr.Buffered() > 0 {
		return func() bool { return false }
	}
	var gone atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := sess.cr.Fill(); err != nil && !isTimeout(err) {
			gone.Store(true)
			cancel()
		}
	}()
	return func() bool {
		_ = sess.client.SetReadDeadline(time.Unix(1, 0))
		<-done
		_ = sess.client.SetReadDeadline(time.Time{})
		return gone.Load()
	}
}

func isTimeout(err error) bool {
	var ne interface{ Timeout() bool }
	return errors.As(err, &ne) && ne.Timeout()
}

// withdrawHeld withdraws the statement the session holds, if any; it is
// how a CancelRequest reaches a held statement. It reports whether one
// was held.
func (sess *session) withdrawHeld() bool {
	h := sess.held.Load()
	if h == nil {
		return false
	}
	h.cancel()
	return true
}

// substitute sends the failing substitute for a Query or Execute and
// arranges for e to replace the server's error.
func (sess *session) substitute(kind opKind, e *pgproto3.ErrorResponse) {
	sess.ops.push(op{kind: kind, deny: e, start: time.Now()})
	if kind == opQuery {
		_ = sess.uw.Send(&pgproto3.Query{String: deniedSQL})
		return
	}
	sess.substituteExecute()
}
