// Package upstream opens interlockd's connections to the protected database
// with the brokered credential (pgx's pgconn does the handshake: SCRAM, TLS),
// marks their sockets so the kernel hooks let them through, and forwards
// cancel requests.
package upstream
