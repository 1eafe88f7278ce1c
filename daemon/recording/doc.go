// Package recording keeps, per session, what the database returned (after
// masking) next to the audit chain: one bounded JSON-lines file per session,
// written off the audit path and on a best-effort basis. `interlock replay`
// reads it back with the session's audit records.
//
//	frontend loop ──Statement(n)──┐                       ┌─► <dir>/<session>.jsonl (0600, dir 0700)
//	backend loop  ──RowDescription / DataRow / CopyData ──┤ Session: mutex, append-only
//	              ──Result(n) / Notice──────────────────┘ buffer; write(2) when 64 KiB
//	                                                        are pending, every FlushInterval
//	Recorder: opens sessions, flushes them in the           (background) and at Close
//	background, removes recordings older than MaxAge
//
// Rows are encoded straight from the wire into a reused buffer (no
// allocation per row). A session's file never exceeds MaxBytes: rows stop
// at 7/8 of it (a "truncated" line says so), statements and results go on
// to the limit, and the end line always fits. A failure to write abandons
// the recording, is logged and counted in Stats, and never fails the
// session: the audit chain, not the recording, is the evidence. See
// docs/recording.md for the format.
package recording
