package approval

import (
	"context"
	"time"
)

// Store keeps requests where every node that needs them sees them:
// LocalStore for one host, PostgresStore for a cluster. Implementations
// return copies and make Update atomic: of two racing updates from the
// same state, exactly one succeeds.
type Store interface {
	// Create adds a new request.
	Create(ctx context.Context, r *Request) error
	// Get returns the request, or ErrNotFound.
	Get(ctx context.Context, id string) (*Request, error)
	// List returns the requests matching f, oldest first.
	List(ctx context.Context, f Filter) ([]*Request, error)
	// Update applies u atomically. When u's preconditions do not hold it
	// returns the current request and ErrConflict; ErrNotFound when there
	// is no such request.
	Update(ctx context.Context, u Update) (*Request, error)
	// FindApproved returns the oldest approved request of requester with
	// binding b whose approval is still valid at now, or ErrNotFound.
	FindApproved(ctx context.Context, requester string, b Binding, now time.Time) (*Request, error)
	// Purge deletes final requests created before t; it returns how many.
	Purge(ctx context.Context, t time.Time) (int, error)
	// Subscribe returns a channel that receives (coalesced) whenever the
	// request id changes, on any node, and a function to unsubscribe. A
	// store that may have missed changes (a lost LISTEN connection) wakes
	// every subscriber.
	Subscribe(id string) (<-chan struct{}, func())
	// Close releases the store; it is safe to call twice.
	Close() error
}

// Filter selects requests for Store.List.
type Filter struct {
	// States selects by state; empty means all.
	States []State
	// Node, when set, selects the requests of one node.
	Node string
	// DueBy, when set, selects requests whose ExpiresAt is not after it.
	DueBy time.Time
	// Limit bounds the result; 0 means DefaultListLimit.
	Limit int
}

// DefaultListLimit bounds List when Filter.Limit is 0.
const DefaultListLimit = 1000

// Update is an atomic compare-and-set of one request's state.
type Update struct {
	ID string
	// From is the state the request must be in.
	From State
	// To is its new state.
	To State
	// LiveAt, when set, requires ExpiresAt to be after it.
	LiveAt time.Time
	// DueAt, when set, requires ExpiresAt not to be after it.
	DueAt time.Time
	// ExpiresAt, when set, replaces ExpiresAt.
	ExpiresAt time.Time
	// Decision, when set, replaces the decision; ClearDecision removes it.
	Decision      *Decision
	ClearDecision bool
	// ConsumedAt, when set, is recorded.
	ConsumedAt time.Time
}

// matches reports whether r meets u's preconditions.
func (u *Update) matches(r *Request) bool {
	switch {
	case r.State != u.From:
		return false
	case !u.LiveAt.IsZero() && !r.ExpiresAt.After(u.LiveAt):
		return false
	case !u.DueAt.IsZero() && r.ExpiresAt.After(u.DueAt):
		return false
	}
	return true
}

// apply changes r as u says.
func (u *Update) apply(r *Request) {
	r.State = u.To
	if !u.ExpiresAt.IsZero() {
		r.ExpiresAt = u.ExpiresAt
	}
	switch {
	case u.ClearDecision:
		r.Decision = nil
	case u.Decision != nil:
		r.Decision = u.Decision.clone()
	}
	if !u.ConsumedAt.IsZero() {
		r.ConsumedAt = u.ConsumedAt
	}
}
