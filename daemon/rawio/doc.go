// Package rawio reads and writes sockets and files with raw read(2) and
// write(2) calls made from the Go runtime poller's readiness callbacks
// (syscall.RawConn), instead of through the scheduler's system-call
// bookkeeping. The proxy relays through it, and the audit log appends
// through it.
package rawio
