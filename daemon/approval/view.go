package approval

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Viewer is who asks to see requests.
type Viewer struct {
	// Actor is the caller's verified identity; nil when it has none.
	Actor *Actor
	// Root is set for uid 0 on the control socket, which sees every
	// request (but decides only with an identity, under the same rules).
	Root bool
}

// CanSee reports whether v may see r: root, the requester, and members of
// r's approver groups.
func (v Viewer) CanSee(r *Request) bool {
	switch {
	case v.Root:
		return true
	case v.Actor == nil || v.Actor.Subject == "":
		return false
	case v.Actor.Subject == r.Requester.Subject:
		return true
	}
	return memberOfAny(v.Actor.Groups, r.ApproverGroups)
}

// List returns the requests v may see, oldest first: the open ones
// (pending or being decided), or with all every request still in the store.
func (s *Service) List(ctx context.Context, v Viewer, all bool) ([]*Request, error) {
	f := Filter{States: []State{StatePending, StateDeciding}}
	if all {
		f = Filter{}
	}
	rs, err := s.cfg.Store.List(ctx, f)
	if err != nil {
		return nil, err
	}
	out := rs[:0]
	for _, r := range rs {
		if v.CanSee(r) {
			out = append(out, r)
		}
	}
	return out, nil
}

// View returns one request if v may see it, else ErrNotFound (whether or
// not it exists).
func (s *Service) View(ctx context.Context, v Viewer, id string) (*Request, error) {
	r, err := s.cfg.Store.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if !v.CanSee(r) {
		return nil, ErrNotFound
	}
	return r, nil
}

// String summarises the origin: "psql[4242] uid 1000 (session) from 10.0.0.1:5555".
func (o *Origin) String() string {
	if o == nil {
		return ""
	}
	var parts []string
	if o.Comm != "" || o.PID != 0 {
		parts = append(parts, o.Comm+"["+strconv.Itoa(o.PID)+"]")
	}
	if o.PID != 0 || o.UID != 0 {
		parts = append(parts, "uid "+strconv.Itoa(o.UID))
	}
	if o.Container != "" {
		parts = append(parts, "container "+o.Container)
	}
	if o.Auth != "" {
		parts = append(parts, "("+o.Auth+")")
	}
	if o.Client != "" {
		parts = append(parts, "from "+o.Client)
	}
	return strings.Join(parts, " ")
}

// noticeStatementBytes bounds the statement text in notices.
const noticeStatementBytes = 1024

// Notice is what the proxy tells the client in a NoticeResponse while a
// blocking request waits: message, detail (reason, exact statement and
// parameters, approvers, deadline) and hint (the command to approve it).
func (r *Request) Notice() (message, detail, hint string) {
	message = fmt.Sprintf("statement held for approval: request %s", r.ID)
	detail = r.describe()
	hint = fmt.Sprintf("A member of %s approves it with: interlock approve %s   (cancel the statement to withdraw the request)",
		strings.Join(r.ApproverGroups, " or "), r.ID)
	return message, detail, hint
}

// RequiredError is what the proxy puts in the ErrorResponse of a
// non-blocking request: the statement did not run; once approved, the
// same person re-running it identically within ttl runs it once.
func (r *Request) RequiredError(ttl time.Duration) (message, detail, hint string) {
	message = fmt.Sprintf("statement requires approval: request %s", r.ID)
	detail = r.describe()
	hint = fmt.Sprintf("A member of %s approves it with: interlock approve %s; then run the identical statement again within %s of the approval.",
		strings.Join(r.ApproverGroups, " or "), r.ID, ttl)
	return message, detail, hint
}

func (r *Request) describe() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "Reason: %s\n", r.Reason)
	stmt := r.Statement
	if len(stmt) > noticeStatementBytes {
		stmt = stmt[:noticeStatementBytes] + "… (" + strconv.Itoa(len(r.Statement)) + " bytes)"
	}
	fmt.Fprintf(&sb, "Statement: %s\n", stmt)
	if p := r.Params.Describe(64); p != "" {
		fmt.Fprintf(&sb, "Parameters: %s\n", p)
	}
	fmt.Fprintf(&sb, "Database: %s on %s. Expires at %s.", r.Database, r.Endpoint, r.ExpiresAt.Format(time.RFC3339))
	return sb.String()
}
