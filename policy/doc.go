// Package policy decides, per statement, what Interlock does: allow, deny
// or hold for approval, and which columns to mask (Decision). It embeds OPA
// with prepared Rego queries, caches analyses and decisions under keys that
// are safe against lexical tricks, and reloads the policy without dropping
// sessions.
//
// One Engine per daemon, one Session per database session:
//
//	Session.Check(text, scs)
//	  │ sqlkey.Append: text with literals replaced ── uncacheable ──► analyse (both
//	  │                                                settings if scs unknown),
//	  ▼                                                evaluate every statement
//	session memo[key] ── hit, same policy generation ──► *Result (0 allocs)
//	  │ miss
//	  ▼
//	analysis cache[key] (shared LRU) ── miss ──► analysis.Analyze, statement → ast.Value
//	  │
//	  ├── PREPARE/EXECUTE/DEALLOCATE inside ──► decided every time against the
//	  │                                         session's prepared statements
//	  ▼
//	decision cache[(context, analysis)] (shared LRU, purged on reload)
//	  │ miss
//	  ▼
//	OPA: data.interlock.decision with input {user, session, endpoint, origin, statement}
//
// Session.Recheck answers a text run again, such as a prepared statement's
// Execute, with its previous cached Result while the policy generation is
// the same, before any of this.
//
// Every failure denies with a reason: a text that does not parse, an
// undefined or malformed decision (a bad mask or require_approval
// included), an evaluation error, a closed engine.
// The input and decision documents and the default policy (policy/rego)
// are described in docs/policy.md.
package policy
