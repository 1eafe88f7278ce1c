// Package policy decides, per statement, what Interlock does: allow or deny
// (and, later, mask or require approval). It embeds OPA with prepared Rego
// queries, caches analyses and decisions under keys that are safe against
// lexical tricks, and reloads the policy without dropping sessions.
package policy
