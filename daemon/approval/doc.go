// Package approval holds risky statements for a second person's approval
// (segregation of duties inside a live session) and keeps the decisions
// in the audit chain.
//
//	proxy: policy says require_approval
//	  │ Request(NewRequest) ──► audit approval_request ──► Store.Create ──► webhook (queued)
//	  │ NoticeResponse: id, statement, reason, `interlock approve <id>`
//	  │ Wait(id) ◄── Store.Subscribe (LISTEN/NOTIFY across nodes)
//	  │                     ▲
//	  │   approver: control socket (host session of the uid) or HTTP API (OIDC bearer)
//	  │     Approve/Reject: authenticated, ≠ requester, in an approver group, not expired
//	  │       claim pending→deciding (CAS) → audit approval/rejection → commit
//	  │ approved: Consume(id, binding): approved→consumed once, binding must match
//	  ▼ run exactly that statement once; its statement record carries approval_id
//
// The binding (BindingOf) is a SHA-256 over the requester, endpoint,
// database, exact statement text and exact parameters, so an approval never
// covers another statement, other parameter values, another target or
// another person. In non-blocking mode the statement fails at once with
// the request id, and the same person re-running the identical statement
// after approval runs it once (FindApproved, then Consume).
//
// Stores: LocalStore (one host, memory plus an optional root-only JSON
// file) and PostgresStore (a cluster: one table, NOTIFY on every update, a
// LISTEN connection per node). Every rule is enforced in Service, whatever
// the transport. docs/approvals.md describes the flow, the API, the audit
// records and the restart behaviour.
package approval
