package approval

import "errors"

// Errors of the service and the stores, checked with errors.Is. The
// service wraps them with the request id and state.
var (
	// ErrNotFound: no request with that id (or none visible to the caller).
	ErrNotFound = errors.New("no such approval request")
	// ErrConflict: a store update's precondition (state, deadline) did not
	// hold; the store returns the current request with it.
	ErrConflict = errors.New("approval request changed meanwhile")
	// ErrSelfApproval: the approver is the requester. There is no override.
	ErrSelfApproval = errors.New("requester and approver must be different people")
	// ErrNotApprover: the caller is in none of the request's approver groups.
	ErrNotApprover = errors.New("not in an approver group of this request")
	// ErrUnauthenticated: the caller has no verified identity.
	ErrUnauthenticated = errors.New("no verified identity")
	// ErrExpired: the request (or the approval) is past its deadline.
	ErrExpired = errors.New("approval request expired")
	// ErrDecided: the request was already decided.
	ErrDecided = errors.New("approval request already decided")
	// ErrNotApproved: Consume of a request that is not (or no longer)
	// approved, e.g. a second use.
	ErrNotApproved = errors.New("approval request is not approved")
	// ErrBindingMismatch: the execution differs from what was approved
	// (statement, parameters, database, endpoint or person).
	ErrBindingMismatch = errors.New("execution does not match the approved statement")
	// ErrBadRequest: the new request or the decision is malformed.
	ErrBadRequest = errors.New("invalid approval request")
	// ErrAudit: the audit record could not be written, so nothing changed.
	ErrAudit = errors.New("audit record not written")
	// ErrClosed: the service or store is closed.
	ErrClosed = errors.New("approval service is closed")
)

// Error codes in HTTP error bodies (besides the control package's codes
// and identity causes).
const (
	CodeSelfApproval    = "self_approval"
	CodeNotApprover     = "not_approver"
	CodeExpired         = "expired"
	CodeDecided         = "already_decided"
	CodeAuditFailed     = "audit_failed"
	CodeUnauthenticated = "unauthenticated"
	CodeUnavailable     = "unavailable"
)
