// Package identity verifies OIDC tokens (ID tokens or JWT access tokens)
// against the configured issuer and turns them into an Identity: subject,
// email, groups and expiry. Verification failures carry a Cause that the
// proxy reports to the client and counts in metrics.
package identity
