package proxy

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/interlock-dev/interlock/daemon/approval"
	"github.com/interlock-dev/interlock/testenv"
)

var approver = approval.Actor{Subject: "erin", Email: "erin@example.com", Groups: []string{"approvers"}, Via: approval.ViaControl}

func prodEnv(t *testing.T, mode approval.Mode, timeout string) *env {
	return newEnv(t, envOptions{
		labels:       map[string]string{"environment": "production"},
		approvals:    true,
		approvalMode: mode,
		policyData:   map[string]any{"approval": map[string]any{"timeout": timeout}},
	})
}

// pending waits for a pending request and returns it.
func pending(t *testing.T, e *env) *approval.Request {
	t.Helper()
	var got *approval.Request
	testenv.WaitFor(t, 10*time.Second, "the approval request", func() bool {
		rs, err := e.approvals.List(context.Background(), approval.Viewer{Root: true}, false)
		if err != nil || len(rs) == 0 {
			return false
		}
		got = rs[0]
		return true
	})
	return got
}

func TestApprovalBlocking(t *testing.T) {
	e := prodEnv(t, approval.ModeBlocking, "1m")
	ctx := ctxT(t)
	w := e.connect(t, "bob", "writers")

	t.Run("Approve", func(t *testing.T) {
		var notices []string
		cfg := w.Config()
		_ = cfg
		done := make(chan error, 1)
		go func() {
			_, err := w.Exec(ctx, "UPDATE customers SET notes = 'approved change'", pgx.QueryExecModeSimpleProtocol)
			done <- err
		}()
		r := pending(t, e)
		if r.Statement != "UPDATE customers SET notes = 'approved change'" || r.Requester.Subject != "bob" {
			t.Fatalf("request %+v", r)
		}
		// The requester may not approve their own statement.
		if _, err := e.approvals.Approve(ctx, r.ID, approval.Actor{Subject: "bob", Groups: []string{"approvers"}, Via: approval.ViaControl}, "self"); err == nil {
			t.Fatal("self-approval accepted")
		}
		if _, err := e.approvals.Approve(ctx, r.ID, approver, "looks fine"); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatalf("approved statement: %v", err)
		}
		var n int
		if err := e.direct(t).QueryRow(ctx, "SELECT count(*) FROM customers WHERE notes = 'approved change'").Scan(&n); err != nil || n == 0 {
			t.Fatalf("approved UPDATE did not run: %d %v", n, err)
		}
		_ = notices
		var found bool
		for _, rec := range auditRecords(t, e, "statement") {
			if rec["approval_id"] == r.ID && rec["decision"] == "approved" && rec["approved_by"] == "erin" {
				found = true
			}
		}
		if !found {
			t.Fatal("the executed statement's audit record does not reference its approval")
		}
	})
	t.Run("Reject", func(t *testing.T) {
		done := make(chan error, 1)
		go func() {
			_, err := w.Exec(ctx, "DELETE FROM orders", pgx.QueryExecModeSimpleProtocol)
			done <- err
		}()
		r := pending(t, e)
		if _, err := e.approvals.Reject(ctx, r.ID, approver, "not today"); err != nil {
			t.Fatal(err)
		}
		err := <-done
		if pgCode(err) != "42501" || !strings.Contains(err.Error(), "rejected by erin: not today") {
			t.Fatalf("rejected statement: %v", err)
		}
	})
	t.Run("CancelWithdraws", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() {
			_, err := w.Exec(cctx, "DELETE FROM orders", pgx.QueryExecModeSimpleProtocol)
			done <- err
		}()
		r := pending(t, e)
		if err := w.PgConn().CancelRequest(ctx); err != nil {
			t.Fatal(err)
		}
		err := <-done
		cancel()
		if pgCode(err) != "57014" {
			t.Fatalf("cancelled held statement: %v", err)
		}
		got, _ := e.approvals.Get(ctx, r.ID)
		if got.State != approval.StateWithdrawn {
			t.Fatalf("request state %s, want withdrawn", got.State)
		}
		// The session is still usable.
		if _, err := w.Exec(ctx, "SELECT 1"); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("ExtendedParamsAreBound", func(t *testing.T) {
		done := make(chan error, 1)
		go func() {
			_, err := w.Exec(ctx, "UPDATE customers SET notes = $1", "bound param")
			done <- err
		}()
		r := pending(t, e)
		if r.Params == nil || len(r.Params.Values) != 1 {
			t.Fatalf("request params %+v", r.Params)
		}
		if _, err := e.approvals.Approve(ctx, r.ID, approver, ""); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatalf("approved extended statement: %v", err)
		}
	})
}

func TestApprovalExpiresInTransaction(t *testing.T) {
	e := prodEnv(t, approval.ModeBlocking, "2s")
	ctx := ctxT(t)
	w := e.connect(t, "bob", "writers")
	if _, err := w.Exec(ctx, "BEGIN"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err := w.Exec(ctx, "UPDATE customers SET notes = 'never'", pgx.QueryExecModeSimpleProtocol)
	if pgCode(err) != "42501" || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("expired request: %v", err)
	}
	if time.Since(start) < time.Second {
		t.Fatalf("request expired after %s, before its 2s timeout", time.Since(start))
	}
	// Inside a transaction the failure aborts it, like any error.
	if s := w.PgConn().TxStatus(); s != 'E' {
		t.Fatalf("tx status %q after an expired request, want E", s)
	}
	if _, err := w.Exec(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
}

func TestApprovalNonBlocking(t *testing.T) {
	e := prodEnv(t, approval.ModeNonBlocking, "1m")
	ctx := ctxT(t)
	w := e.connect(t, "bob", "writers")
	const stmt = "UPDATE customers SET notes = 'nonblocking'"
	_, err := w.Exec(ctx, stmt, pgx.QueryExecModeSimpleProtocol)
	if pgCode(err) != "42501" || !strings.Contains(err.Error(), "statement requires approval: request") {
		t.Fatalf("non-blocking: %v", err)
	}
	r := pending(t, e)
	if _, err := e.approvals.Approve(ctx, r.ID, approver, ""); err != nil {
		t.Fatal(err)
	}
	// The same person re-running the identical statement runs it once.
	if _, err := w.Exec(ctx, stmt, pgx.QueryExecModeSimpleProtocol); err != nil {
		t.Fatalf("re-run after approval: %v", err)
	}
	if _, err := w.Exec(ctx, stmt, pgx.QueryExecModeSimpleProtocol); pgCode(err) != "42501" {
		t.Fatalf("second re-run: %v, want a new approval request", err)
	}
}
