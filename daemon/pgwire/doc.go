// Package pgwire frames the PostgreSQL v3 wire protocol for the proxy.
//
// The proxy forwards most messages untouched, so it works on raw frames: a
// Reader hands out each message's type and body as slices of its own buffer
// (no copy, no allocation), and a Writer batches outgoing frames so a whole
// response goes out in one write. Messages the proxy must inspect or build
// are decoded and encoded with pgx's pgproto3 message types.
//
// pgproto3's Frontend/Backend are not used for the relay because they decode
// every message (and would re-encode it to forward it), apply one size limit
// to every message type, and cannot stream a message larger than memory.
package pgwire
