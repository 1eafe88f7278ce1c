// Package audit owns interlockd's tamper-evident audit chain: an append-only
// JSON-lines file in which every record carries a sequence number and the
// SHA-256 of the previous line, sealed periodically by Ed25519-signed
// checkpoints, rotated by size, and checked end to end by Verify.
//
//	proxy ──Body──► Log.Write ──one write(2)──► audit.log (0600)
//	       ──Body──► Log.Defer ─┘ (queued; flushed with the next Write
//	                                or within FlushDelay)
//	background: checkpoint every CheckpointInterval; rotate past RotateBytes
//	            audit.log → audit.log.<20-digit seq>, chain continues
//	Verify / RunVerify: JSON, seq, prev hashes, signatures, sealed tail
//
// Write is synchronous and fails closed: the proxy forwards a statement only
// after Write has returned nil. The hot path (Body building and Write)
// does not allocate. See docs/audit.md for the record format and what the
// chain does and does not detect.
package audit
