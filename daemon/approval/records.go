package approval

import (
	"time"

	"github.com/interlock-dev/interlock/daemon/audit"
)

// TypeWithdrawal is the audit record of a withdrawn request (the client
// cancelled the held statement, or the requester took the request back).
// The other approval types are the audit package's.
const TypeWithdrawal = "withdrawal"

// requestRecord is approval_request: everything an auditor needs to know
// what was asked, by whom, from where, and who may approve it.
func (s *Service) requestRecord(b *audit.Body, r *Request) {
	b.Reset(audit.TypeApprovalRequest)
	b.Str("request_id", r.ID)
	b.Str("requester", r.Requester.Subject)
	if r.Requester.Email != "" {
		b.Str("requester_email", r.Requester.Email)
	}
	b.Strs("requester_groups", r.Requester.Groups)
	if o := r.Requester.Origin; o != nil {
		b.Str("auth", o.Auth)
		b.Str("client", o.Client)
		b.Int("pid", int64(o.PID))
		b.Int("uid", int64(o.UID))
		b.Str("comm", o.Comm)
		b.Str("exe", o.Exe)
		b.Str("cgroup", o.Cgroup)
		if o.Container != "" {
			b.Str("container", o.Container)
		}
	}
	b.Str("session_id", r.SessionID)
	b.Str("endpoint", r.Endpoint)
	b.Str("database", r.Database)
	truncated := b.StrMax("statement", r.Statement, s.cfg.MaxStatementBytes)
	b.SHA256("statement_sha256", r.Statement)
	b.Bool("statement_truncated", truncated)
	if r.Params != nil {
		b.Int("params", int64(len(r.Params.Values)))
		b.Str("params_sha256", ParamsSHA256(r.Params))
	}
	b.Str("binding", r.Binding.String())
	b.Strs("approver_groups", r.ApproverGroups)
	b.Str("reason", r.Reason)
	b.Str("mode", string(r.Mode))
	b.Str("node", r.Node)
	b.Time("expires_at", r.ExpiresAt)
}

// actor appends who decided, under prefix ("approver", "rejected_by"...).
func actor(b *audit.Body, prefix string, a Actor) {
	b.Str(prefix, a.Subject)
	if a.Email != "" {
		b.Str(prefix+"_email", a.Email)
	}
	if a.Groups != nil {
		b.Strs(prefix+"_groups", a.Groups)
	}
	b.Str("via", a.Via)
	if a.UID != nil {
		b.Uint("uid", uint64(*a.UID))
	}
}

// approvalRecord is approval: the approver and what exactly they approved.
func (s *Service) approvalRecord(b *audit.Body, r *Request, validUntil time.Time) {
	b.Reset(audit.TypeApproval)
	b.Str("request_id", r.ID)
	b.Str("requester", r.Requester.Subject)
	actor(b, "approver", r.Decision.By)
	b.Str("comment", r.Decision.Comment)
	b.SHA256("statement_sha256", r.Statement)
	b.Str("binding", r.Binding.String())
	b.Str("node", s.cfg.Node)
	b.Time("valid_until", validUntil)
}

// rejectionRecord is rejection.
func (s *Service) rejectionRecord(b *audit.Body, r *Request) {
	b.Reset(audit.TypeRejection)
	b.Str("request_id", r.ID)
	b.Str("requester", r.Requester.Subject)
	actor(b, "rejected_by", r.Decision.By)
	b.Str("reason", r.Decision.Comment)
	b.SHA256("statement_sha256", r.Statement)
	b.Str("node", s.cfg.Node)
}

// withdrawalRecord is withdrawal.
func (s *Service) withdrawalRecord(b *audit.Body, r *Request, was State) {
	b.Reset(TypeWithdrawal)
	b.Str("request_id", r.ID)
	b.Str("requester", r.Requester.Subject)
	actor(b, "withdrawn_by", r.Decision.By)
	b.Str("was", string(was))
	b.Str("reason", r.Decision.Comment)
	b.Str("node", s.cfg.Node)
}

// expiryRecord is expiry.
func (s *Service) expiryRecord(b *audit.Body, r *Request, was State, reason string, at time.Time) {
	b.Reset(audit.TypeExpiry)
	b.Str("request_id", r.ID)
	b.Str("requester", r.Requester.Subject)
	b.Str("was", string(was))
	b.Str("reason", reason)
	b.Time("expires_at", r.ExpiresAt)
	b.Time("expired_at", at)
	b.Str("node", s.cfg.Node)
}

// AppendAudit adds to the proxy's statement record the approval that
// lets the statement run: approval_id, approved_by, approval_via and
// approval_binding. Pass the request Consume returned.
func (r *Request) AppendAudit(b *audit.Body) {
	b.Str("approval_id", r.ID)
	if r.Decision != nil {
		b.Str("approved_by", r.Decision.By.Subject)
		b.Str("approval_via", r.Decision.By.Via)
	}
	b.Str("approval_binding", r.Binding.String())
}
