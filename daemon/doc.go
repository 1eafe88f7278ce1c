// Package daemon is interlockd: it wires configuration, identity, policy,
// audit, metrics and the proxy together and runs them until the context
// ends. Subpackages own each concern:
//
//	config    YAML configuration and validation
//	pgwire    protocol framing
//	identity  OIDC token verification
//	upstream  brokered upstream connections
//	proxy     the data path (sessions, relay, enforcement)
//	audit     the tamper-evident audit chain
//	metrics   Prometheus metrics
package daemon
