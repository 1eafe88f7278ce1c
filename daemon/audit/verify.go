package audit

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// VerifyOptions says what to verify.
type VerifyOptions struct {
	// Files of one chain. Several files are taken in the order given; a
	// single name may also be a directory, the live file or a rotated file
	// (see ResolveFiles).
	Files []string
	// PublicKey checks checkpoint signatures. Without it only the chain's
	// internal consistency is checked: anyone can append a well-formed
	// checkpoint, so an unsealed tail or a missing final checkpoint is only
	// a note.
	PublicKey ed25519.PublicKey
	// Live treats the chain as still being written: records after the last
	// checkpoint, the lack of a final checkpoint and an incomplete last line
	// of the last file are notes, not failures.
	Live bool
	// Partial accepts a chain whose first record is not the genesis record
	// (older rotated files were pruned); its prev is then trusted.
	Partial bool
	// MaxFailures bounds Report.Failures; default 100.
	MaxFailures int
}

// Verify checks an audit chain: that every line is a valid record, that seq
// increases by one and each prev is the SHA-256 of the line before it
// (across files), that checkpoints are well formed and, with a public key,
// correctly signed, and that the chain ends sealed by a final checkpoint.
// Problems are reported in the Report, each naming file, line and seq; the
// error is for I/O and usage problems only.
func Verify(ctx context.Context, opts VerifyOptions) (*Report, error) {
	if opts.PublicKey != nil && len(opts.PublicKey) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("public key is %d bytes, want %d", len(opts.PublicKey), ed25519.PublicKeySize)
	}
	if opts.MaxFailures <= 0 {
		opts.MaxFailures = 100
	}
	files, fds, err := openChain(opts.Files)
	if err != nil {
		return nil, err
	}
	defer func() {
		for _, f := range fds {
			f.Close()
		}
	}()
	v := &verifier{
		opts: opts,
		rep:  &Report{Files: files, LastSealedSeq: -1},
	}
	if opts.PublicKey != nil {
		v.keyID = KeyID(opts.PublicKey)
		v.rep.KeyID = v.keyID
	}
	for i, name := range files {
		if err := v.file(ctx, i, name, fds[i]); err != nil {
			return nil, err
		}
	}
	v.finish()
	return v.rep, nil
}

// location of a record, to name it in failures.
type location struct {
	file string
	line int
	seq  int64
}

type verifier struct {
	opts  VerifyOptions
	rep   *Report
	keyID string

	started  bool     // a record was read
	known    bool     // expect and prev are trustworthy
	expect   uint64   // seq of the next record
	prev     string   // hex hash of the last line
	last     location // the last record read
	lastRec  record
	lastFile string
	msg      []byte
}

func (v *verifier) fail(kind FailureKind, at location, format string, args ...any) {
	if len(v.rep.Failures) >= v.opts.MaxFailures {
		v.rep.Omitted++
		return
	}
	v.rep.Failures = append(v.rep.Failures, Failure{Kind: kind, File: at.file, Line: at.line, Seq: at.seq, Msg: fmt.Sprintf(format, args...)})
	v.rep.FirstFailure = &v.rep.Failures[0]
}

func (v *verifier) note(format string, args ...any) {
	v.rep.Notes = append(v.rep.Notes, fmt.Sprintf(format, args...))
}

func (v *verifier) file(ctx context.Context, index int, name string, f *os.File) error {
	var err error
	v.lastFile = name
	r := bufio.NewReaderSize(f, 64<<10)
	var buf []byte
	for lineNo := 1; ; lineNo++ {
		if lineNo%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("verify: %w", err)
			}
		}
		buf, err = readLine(r, buf[:0])
		if err == io.EOF && len(buf) == 0 {
			return nil
		}
		at := location{file: name, line: lineNo, seq: -1}
		switch {
		case errors.Is(err, errLineTooLong):
			v.fail(KindBadRecord, at, "line longer than %d bytes", maxLine)
			v.known = false
			continue
		case err == io.EOF:
			if v.opts.Live && index == len(v.rep.Files)-1 {
				v.note("%s:%d: last line incomplete (%d bytes): a write in progress", name, lineNo, len(buf))
				return nil
			}
			v.fail(KindTornLine, at, "torn last line (%d bytes without a newline): a write was cut short by a crash, or the file was truncated", len(buf))
			return nil
		case err != nil:
			return fmt.Errorf("read %s: %w", name, err)
		}
		v.line(index, lineNo, at, buf)
	}
}

var errLineTooLong = errors.New("line too long")

// readLine appends the next line (without newline) to buf. It returns
// io.EOF with the bytes of a last line that has no newline.
func readLine(r *bufio.Reader, buf []byte) ([]byte, error) {
	tooLong := false
	for {
		chunk, err := r.ReadSlice('\n')
		if !tooLong {
			buf = append(buf, chunk...)
			if len(buf) > maxLine+1 {
				tooLong, buf = true, buf[:0]
			}
		}
		switch {
		case err == bufio.ErrBufferFull:
			continue
		case err != nil:
			if tooLong {
				return buf, errLineTooLong
			}
			return buf, err
		case tooLong:
			return buf, errLineTooLong
		}
		return buf[:len(buf)-1], nil
	}
}

func (v *verifier) line(fileIndex, lineNo int, at location, line []byte) {
	sum := sha256.Sum256(line)
	hash := hex.EncodeToString(sum[:])
	rec, err := parseLine(line)
	if err != nil {
		v.fail(KindBadRecord, at, "not a valid record (%v): the line was edited", err)
		// Its hash and seq are unknown; resume from the next good record
		// rather than report the same edit twice.
		v.started, v.known = true, false
		v.prev = hash
		v.last = at
		return
	}
	at.seq = int64(rec.Seq)
	if v.rep.Records == 0 {
		v.rep.FirstSeq = rec.Seq
	}
	v.rep.Records++
	v.rep.LastSeq = rec.Seq
	switch {
	case !v.started:
		if !v.opts.Partial && (rec.Seq != 0 || rec.Prev != genesisPrev) {
			v.fail(KindBadGenesis, at, "the chain starts at seq %d, not at a genesis record (seq 0, zero prev): earlier records or files are missing (use Partial if they were pruned)", rec.Seq)
		}
	case !v.known:
		// after an unreadable line: trust this record and go on
	case rec.Seq > v.expect:
		v.fail(KindSeqGap, at, "seq %d follows seq %d (%s:%d): %s deleted", rec.Seq, v.expect-1, v.last.file, v.last.line, missing(v.expect, rec.Seq-1))
	case rec.Seq < v.expect:
		v.fail(KindSeqOrder, at, "seq %d follows seq %d (%s:%d): records were reordered or duplicated", rec.Seq, v.expect-1, v.last.file, v.last.line)
	case rec.Prev != v.prev:
		v.fail(KindHashMismatch, v.last, "record does not hash to the prev of the next record (%s:%d seq %d): it was modified, or that prev was", at.file, at.line, rec.Seq)
	}
	if fileIndex > 0 && lineNo == 1 && rec.Type != TypeRotate {
		v.note("%s does not start with a rotate record", at.file)
	}
	switch rec.Type {
	case TypeCheckpoint:
		v.checkpoint(at, rec)
	case TypeRecovery:
		v.note("%s:%d (seq %d): the daemon reopened the chain after: %s", at.file, at.line, rec.Seq, strings.Join(rec.Reasons, ", "))
	case TypeRotate:
		if lineNo != 1 {
			v.note("%s:%d (seq %d): rotate record in the middle of a file", at.file, at.line, rec.Seq)
		}
	}
	v.started, v.known = true, true
	v.expect, v.prev = rec.Seq+1, hash
	v.last, v.lastRec = at, rec
}

func missing(from, to uint64) string {
	if from == to {
		return fmt.Sprintf("record seq %d was", from)
	}
	return fmt.Sprintf("%d records (seq %d..%d) were", to-from+1, from, to)
}

func (v *verifier) checkpoint(at location, rec record) {
	v.rep.Checkpoints++
	const all = hasChain | hasCovered | hasFinal
	switch {
	case rec.has&all != all:
		v.fail(KindBadCheckpoint, at, "checkpoint lacks chain, covered_seq or final")
		return
	case rec.Chain != rec.Prev:
		v.fail(KindBadCheckpoint, at, "checkpoint chain %.16s… differs from its prev %.16s…", rec.Chain, rec.Prev)
		return
	case rec.Seq == 0 || rec.CoveredSeq != rec.Seq-1:
		v.fail(KindBadCheckpoint, at, "checkpoint covered_seq %d, want %d", rec.CoveredSeq, int64(rec.Seq)-1)
		return
	}
	signed := rec.has&(hasKeyID|hasSig) == hasKeyID|hasSig
	if signed && rec.Members != checkpointMembers {
		v.fail(KindBadCheckpoint, at, "checkpoint has %d members, want %d", rec.Members, checkpointMembers)
		return
	}
	if v.opts.PublicKey == nil {
		v.seal(rec)
		return
	}
	if !signed {
		v.fail(KindMissingSignature, at, "checkpoint has no key_id/sig but a public key was given")
		return
	}
	if rec.KeyID != v.keyID {
		v.fail(KindWrongKey, at, "checkpoint signed by key %s, want %s: forged or signed with another key", rec.KeyID, v.keyID)
		return
	}
	sig, err := base64.StdEncoding.DecodeString(rec.Sig)
	v.msg = appendSignedMessage(v.msg[:0], rec.Seq, rec.CoveredSeq, rec.Chain, rec.Time, rec.Final, rec.KeyID)
	if err != nil || !ed25519.Verify(v.opts.PublicKey, v.msg, sig) {
		v.fail(KindBadSignature, at, "checkpoint signature does not verify: the checkpoint or the chain before it was forged")
		return
	}
	v.rep.ValidCheckpoints++
	v.seal(rec)
}

func (v *verifier) seal(rec record) {
	v.rep.LastSealedSeq = int64(rec.Seq)
}

// finish checks the end of the chain.
func (v *verifier) finish() {
	r := v.rep
	if r.LastSealedSeq >= 0 {
		r.Unsealed = int(int64(r.LastSeq) - r.LastSealedSeq)
	} else {
		r.Unsealed = r.Records
	}
	r.Final = r.Records > 0 && v.lastRec.Type == TypeCheckpoint && v.lastRec.Final && r.Unsealed == 0
	strict := v.opts.PublicKey != nil && !v.opts.Live
	at := v.last
	if !v.started {
		at = location{file: v.lastFile, line: 1, seq: -1}
	}
	var unsealed string
	switch {
	case r.Unsealed == 0:
	case r.LastSealedSeq >= 0:
		unsealed = fmt.Sprintf("%d record(s) after the last checkpoint at seq %d are not covered by a signature", r.Unsealed, r.LastSealedSeq)
	default:
		unsealed = fmt.Sprintf("%d record(s) are not covered by a signature: there is no valid checkpoint", r.Unsealed)
	}
	const noFinal = "no final checkpoint: the log was truncated or the daemon did not shut down cleanly"
	if strict {
		if unsealed != "" {
			v.fail(KindUnsealed, at, "%s", unsealed)
		}
		if !r.Final {
			v.fail(KindNoFinalCheckpoint, at, "%s", noFinal)
		}
		return
	}
	if unsealed != "" {
		v.note("%s", unsealed)
	}
	if !r.Final {
		if v.opts.Live {
			v.note("no final checkpoint (expected while the daemon is running)")
		} else {
			v.note("%s", noFinal)
		}
	}
}
