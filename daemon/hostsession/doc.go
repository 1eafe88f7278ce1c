// Package hostsession keeps the host sessions of `interlock login`: one
// verified OIDC identity per local uid. The control socket hands tokens to
// Login (the uid comes from SO_PEERCRED, never from the client); the proxy
// calls Lookup for every redirected connection, whose origin uid names the
// person.
//
//	interlock login ──tokens──► control ──Login(uid)──► Store ──► sessions.json (0600)
//	                                                      │ ▲
//	                              Run: refresh before exp ┘ │ Lookup(uid) (lock-free)
//	                                                        proxy
//
// The store verifies the access token when it is a JWT for the configured
// audience, else the ID token. Sessions are persisted atomically to a
// root-only file and reloaded on start; expired ones are dropped. Run
// renews sessions with their refresh token some margin before expiry; a
// session whose refresh fails ends at its expiry. Subscribers learn when a
// uid's session ends (logout, expiry, failed refresh, replaced by another
// identity) so live connections of that uid can be closed.
package hostsession
