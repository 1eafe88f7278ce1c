package audit

import (
	"fmt"
	"path/filepath"
	"strings"
)

// FailureKind classifies what Verify found wrong.
type FailureKind string

// Failure kinds.
const (
	// KindBadRecord: a line is not a valid record (bad JSON, missing or
	// mistyped seq/time/prev/type, duplicate keys): it was edited.
	KindBadRecord FailureKind = "bad_record"
	// KindTornLine: the last line of a file has no newline.
	KindTornLine FailureKind = "torn_line"
	// KindSeqGap: seq jumps forward: the records in between were deleted.
	KindSeqGap FailureKind = "seq_gap"
	// KindSeqOrder: seq repeats or goes backwards: records were reordered
	// or duplicated.
	KindSeqOrder FailureKind = "seq_order"
	// KindHashMismatch: a record's bytes do not hash to the next record's
	// prev: the record (or the next record's prev) was modified.
	KindHashMismatch FailureKind = "hash_mismatch"
	// KindBadGenesis: the first record is not seq 0 with a zero prev (older
	// files missing; see VerifyOptions.Partial).
	KindBadGenesis FailureKind = "bad_genesis"
	// KindBadCheckpoint: a checkpoint's chain or covered_seq does not match
	// its position, or it has unexpected members.
	KindBadCheckpoint FailureKind = "bad_checkpoint"
	// KindMissingSignature: a checkpoint has no key_id or sig although a
	// public key was given.
	KindMissingSignature FailureKind = "missing_signature"
	// KindWrongKey: a checkpoint names another signing key.
	KindWrongKey FailureKind = "wrong_key"
	// KindBadSignature: a checkpoint's signature does not verify.
	KindBadSignature FailureKind = "bad_signature"
	// KindUnsealed: records after the last valid checkpoint.
	KindUnsealed FailureKind = "unsealed"
	// KindNoFinalCheckpoint: the chain does not end with a final checkpoint.
	KindNoFinalCheckpoint FailureKind = "no_final_checkpoint"
)

// Failure is one problem Verify found, located precisely.
type Failure struct {
	Kind FailureKind
	File string // the file as named in VerifyOptions.Files
	Line int    // 1-based line number in File
	Seq  int64  // seq of the record at Line, -1 if unknown
	Msg  string
}

func (f Failure) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s:%d", f.File, f.Line)
	if f.Seq >= 0 {
		fmt.Fprintf(&b, " (seq %d)", f.Seq)
	}
	fmt.Fprintf(&b, ": %s: %s", f.Kind, f.Msg)
	return b.String()
}

// Report is the outcome of Verify.
type Report struct {
	Files   []string
	Records int
	// FirstSeq and LastSeq bound the records read (valid when Records > 0).
	FirstSeq, LastSeq uint64
	// Checkpoints counts checkpoint records; ValidCheckpoints those whose
	// signature verified (0 without a public key).
	Checkpoints, ValidCheckpoints int
	// KeyID is the fingerprint of the public key given, "" without one.
	KeyID string
	// LastSealedSeq is the seq of the last checkpoint that seals the chain
	// (signature verified, or any well-formed one without a key); -1 none.
	LastSealedSeq int64
	// Final reports that the chain ends with a final checkpoint.
	Final bool
	// Unsealed counts records after LastSealedSeq.
	Unsealed int
	// Notes are facts worth a reader's attention that are not failures:
	// recoveries, rotations, and tail warnings in Live mode or without a key.
	Notes []string
	// Failures lists the problems found, in file order, up to
	// VerifyOptions.MaxFailures; Omitted counts the rest.
	Failures []Failure
	Omitted  int
	// FirstFailure is the first failure (nil when OK).
	FirstFailure *Failure
}

// OK reports whether no failure was found.
func (r *Report) OK() bool { return len(r.Failures) == 0 }

// String is a human-readable summary.
func (r *Report) String() string {
	var b strings.Builder
	if r.OK() {
		b.WriteString("audit chain OK\n")
	} else {
		fmt.Fprintf(&b, "audit chain FAILED: %d problem(s)\n", len(r.Failures)+r.Omitted)
	}
	names := make([]string, len(r.Files))
	for i, f := range r.Files {
		names[i] = filepath.Base(f)
	}
	fmt.Fprintf(&b, "files:       %d (%s)\n", len(r.Files), strings.Join(names, ", "))
	if r.Records > 0 {
		fmt.Fprintf(&b, "records:     %d (seq %d..%d)\n", r.Records, r.FirstSeq, r.LastSeq)
	} else {
		b.WriteString("records:     0\n")
	}
	if r.KeyID != "" {
		fmt.Fprintf(&b, "checkpoints: %d, %d with a valid signature by key %s\n", r.Checkpoints, r.ValidCheckpoints, r.KeyID)
	} else {
		fmt.Fprintf(&b, "checkpoints: %d, signatures NOT verified (no public key given)\n", r.Checkpoints)
	}
	if r.LastSealedSeq >= 0 {
		fmt.Fprintf(&b, "last sealed: seq %d; %d record(s) after it; final checkpoint: %s\n", r.LastSealedSeq, r.Unsealed, yesNo(r.Final))
	} else {
		fmt.Fprintf(&b, "last sealed: none; %d record(s) unsealed\n", r.Unsealed)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	for _, f := range r.Failures {
		fmt.Fprintf(&b, "FAIL %s\n", f)
	}
	if r.Omitted > 0 {
		fmt.Fprintf(&b, "... and %d more failure(s)\n", r.Omitted)
	}
	return b.String()
}

func yesNo(v bool) string {
	if v {
		return "yes"
	}
	return "no"
}
