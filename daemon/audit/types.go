package audit

// Record types: the value of every record's "type" field. docs/audit.md
// lists the fields of each.
const (
	// TypeSessionStart: a client session was accepted and bound to an identity.
	TypeSessionStart = "session_start"
	// TypeStatement: a statement and its decision, written (Write) before it
	// is forwarded upstream.
	TypeStatement = "statement"
	// TypeStatementResult: how a forwarded statement ended (command tag,
	// rows, duration, error), usually queued with Defer.
	TypeStatementResult = "statement_result"
	// TypeSessionEnd: the session closed.
	TypeSessionEnd = "session_end"

	// TypeApprovalRequest: a statement was held for approval.
	TypeApprovalRequest = "approval_request"
	// TypeApproval: a held statement was approved.
	TypeApproval = "approval"
	// TypeRejection: a held statement was rejected.
	TypeRejection = "rejection"
	// TypeExpiry: a held statement's request expired.
	TypeExpiry = "expiry"
	// TypeAlert: a security event such as a bypass attempt.
	TypeAlert = "alert"

	// TypeCheckpoint: a signed seal over the chain so far; written by the Log.
	TypeCheckpoint = "checkpoint"
	// TypeChainStart: the genesis record (seq 0) of a new chain, written by
	// Open; it carries the format version and the signing key's id.
	TypeChainStart = "chain_start"
	// TypeRotate: the first record of a file after rotation; written by the Log.
	TypeRotate = "rotate"
	// TypeRecovery: the Log reopened a chain that ended badly (a torn last
	// line it cut away, or no final checkpoint); written by the Log.
	TypeRecovery = "recovery"
)

// formatVersion is the version of the record format in chain_start.
const formatVersion = 1

// Field names the Log itself writes.
const (
	fieldSeq  = "seq"
	fieldTime = "time"
	fieldPrev = "prev"
	fieldType = "type"

	// checkpoint
	fieldChain      = "chain"
	fieldCoveredSeq = "covered_seq"
	fieldFinal      = "final"
	fieldKeyID      = "key_id"
	fieldSig        = "sig"

	// chain_start
	fieldVersion = "version"

	// rotate
	fieldPrevFile    = "prev_file"
	fieldPrevLastSeq = "prev_last_seq"

	// recovery
	fieldReasons      = "reasons"
	fieldTornBytes    = "torn_bytes"
	fieldTornSHA256   = "torn_sha256"
	fieldTornOffset   = "torn_offset"
	fieldLastType     = "last_type"
	reasonTornLine    = "torn_last_line"
	reasonUnclean     = "unclean_shutdown"
	reasonMissingLive = "live_file_missing"
)
