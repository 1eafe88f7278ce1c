package approval

import (
	"slices"
	"time"
)

// State is where a request is in its life.
//
//	pending ──approve──► approved ──consume──► consumed
//	   │  ╲                  │
//	   │   ╲reject/withdraw  ╰──withdraw / approval window ends──► withdrawn / expired
//	   │    ╰──► rejected / withdrawn
//	   ╰──timeout / daemon restart──► expired
//
// Every decision passes through deciding: the deciding node claims the
// request (so racing deciders cannot both win), writes the audit record,
// then commits; if the audit write fails it puts the request back.
type State string

// States of a request.
const (
	StatePending   State = "pending"
	StateDeciding  State = "deciding"
	StateApproved  State = "approved"
	StateConsumed  State = "consumed"
	StateRejected  State = "rejected"
	StateExpired   State = "expired"
	StateWithdrawn State = "withdrawn"
)

// Open reports whether the request still waits for a decision.
func (s State) Open() bool { return s == StatePending || s == StateDeciding }

// Final reports whether nothing can happen to the request any more.
func (s State) Final() bool {
	switch s {
	case StateConsumed, StateRejected, StateExpired, StateWithdrawn:
		return true
	}
	return false
}

// Mode is how the proxy holds a statement for approval.
type Mode string

// Modes.
const (
	// ModeBlocking: the statement waits in the live session until it is
	// decided or expires, then runs (once) or fails.
	ModeBlocking Mode = "blocking"
	// ModeNonBlocking: the statement fails at once with the request id;
	// once approved, the same person re-running the identical statement
	// runs it once.
	ModeNonBlocking Mode = "nonblocking"
)

// Origin summarises where a held statement came from, for approvers.
type Origin struct {
	// Client is the client's address as the proxy saw it.
	Client string `json:"client,omitempty"`
	// Auth is how the session was authenticated: "session" or "token".
	Auth      string `json:"auth,omitempty"`
	PID       int    `json:"pid,omitempty"`
	UID       int    `json:"uid,omitempty"`
	Comm      string `json:"comm,omitempty"`
	Exe       string `json:"exe,omitempty"`
	Cgroup    string `json:"cgroup,omitempty"`
	Container string `json:"container,omitempty"`
}

// Requester is the person whose statement is held.
type Requester struct {
	Issuer  string   `json:"iss,omitempty"`
	Subject string   `json:"sub"`
	Email   string   `json:"email,omitempty"`
	Groups  []string `json:"groups"`
	Origin  *Origin  `json:"origin,omitempty"`
}

// Actor is who decided: an approver authenticated by a host session or a
// bearer token, the requester's own session (withdrawal), or the daemon
// itself (expiry).
type Actor struct {
	Issuer  string   `json:"iss,omitempty"`
	Subject string   `json:"sub,omitempty"`
	Email   string   `json:"email,omitempty"`
	Groups  []string `json:"groups,omitempty"`
	// Via is how the actor was authenticated: ViaControl, ViaAPI,
	// ViaSession or ViaSystem.
	Via string `json:"via"`
	// UID is the local uid of a control-socket caller.
	UID *uint32 `json:"uid,omitempty"`
}

// Values of Actor.Via.
const (
	// ViaControl: the control socket; the identity is the host session of
	// the caller's uid (SO_PEERCRED).
	ViaControl = "control"
	// ViaAPI: the HTTP API; the identity is a verified OIDC bearer token.
	ViaAPI = "api"
	// ViaSession: the requester's own database session (a cancelled
	// statement).
	ViaSession = "session"
	// ViaSystem: interlockd itself (expiry).
	ViaSystem = "system"
)

// Decision records who moved a request out of pending, when and why.
type Decision struct {
	By Actor     `json:"by"`
	At time.Time `json:"at"`
	// Comment is the approver's comment, or the reason of a rejection,
	// withdrawal or expiry.
	Comment string `json:"comment,omitempty"`
}

// Request is one held statement and its fate. Requests returned by the
// service and the stores are copies: callers may keep and change them.
type Request struct {
	ID        string    `json:"id"`
	State     State     `json:"state"`
	Mode      Mode      `json:"mode"`
	Requester Requester `json:"requester"`
	Endpoint  string    `json:"endpoint"`
	Database  string    `json:"database"`
	// Statement is the exact text that runs once approved.
	Statement string `json:"statement"`
	// Params are the exact parameters of an extended-protocol statement;
	// nil for a simple query.
	Params *Params `json:"params,omitempty"`
	// Binding is the hash an execution must present (see BindingOf).
	Binding        Binding  `json:"binding"`
	ApproverGroups []string `json:"approver_groups"`
	// Reason is the policy's reason for requiring approval.
	Reason string `json:"reason"`
	// SessionID is the proxy session that held the statement.
	SessionID string `json:"session_id,omitempty"`
	// Node is the interlockd that holds the statement.
	Node      string    `json:"node"`
	CreatedAt time.Time `json:"created_at"`
	// ExpiresAt is when a pending request expires or, once approved, when
	// the approval can no longer be used.
	ExpiresAt time.Time `json:"expires_at"`
	// Decision is set once the request left pending (or while deciding).
	Decision   *Decision `json:"decision,omitempty"`
	ConsumedAt time.Time `json:"consumed_at,omitzero"`
}

// Clone returns a deep copy of r.
func (r *Request) Clone() *Request {
	if r == nil {
		return nil
	}
	c := *r
	c.Requester.Groups = slices.Clone(r.Requester.Groups)
	if r.Requester.Origin != nil {
		o := *r.Requester.Origin
		c.Requester.Origin = &o
	}
	c.Params = r.Params.Clone()
	c.ApproverGroups = slices.Clone(r.ApproverGroups)
	c.Decision = r.Decision.clone()
	return &c
}

func (d *Decision) clone() *Decision {
	if d == nil {
		return nil
	}
	c := *d
	c.By.Groups = slices.Clone(d.By.Groups)
	if d.By.UID != nil {
		uid := *d.By.UID
		c.By.UID = &uid
	}
	return &c
}

// NewRequest is what the proxy knows when policy requires approval.
type NewRequest struct {
	// Requester is the session's identity and origin.
	Requester Requester
	// Endpoint and Database name the target.
	Endpoint string
	Database string
	// Statement is the exact text to run.
	Statement string
	// Params are the Bind's parameters (values, formats and the Parse's
	// type OIDs); nil for a simple query.
	Params *Params
	// ApproverGroups may approve; at least one is required.
	ApproverGroups []string
	// Reason is the policy's reason, shown to approvers.
	Reason string
	// Timeout is how long the request stays pending; 0 means the
	// service's default (5 minutes), and it is capped at its maximum.
	Timeout time.Duration
	// SessionID is the proxy's session id, for the audit trail.
	SessionID string
	// Mode is ModeBlocking (default) or ModeNonBlocking.
	Mode Mode
}

// Binding of the request n would create.
func (n *NewRequest) Binding() Binding {
	return BindingOf(n.Requester.Subject, n.Endpoint, n.Database, n.Statement, n.Params)
}
