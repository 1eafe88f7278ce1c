package audit

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strconv"
)

// sigDomain starts every signed checkpoint message, so that a checkpoint
// signature can never be mistaken for (or replayed as) a signature over
// anything else made with the same key.
const sigDomain = "interlock-audit-checkpoint/v1\n"

// appendSignedMessage appends the exact bytes a checkpoint signature covers:
//
//	interlock-audit-checkpoint/v1\n
//	seq=<seq of the checkpoint record>\n
//	covered_seq=<seq of the last record it seals = seq-1>\n
//	chain=<hex SHA-256 of the previous line = the record's prev>\n
//	time=<the record's time string, byte for byte>\n
//	final=<true|false>\n
//	key_id=<KeyID of the signing key>\n
//
// chain commits to the whole chain before the checkpoint, because every line
// carries the hash of its predecessor.
func appendSignedMessage(dst []byte, seq, covered uint64, chain, timeStr string, final bool, keyID string) []byte {
	dst = append(dst, sigDomain...)
	dst = append(dst, "seq="...)
	dst = strconv.AppendUint(dst, seq, 10)
	dst = append(dst, "\ncovered_seq="...)
	dst = strconv.AppendUint(dst, covered, 10)
	dst = append(dst, "\nchain="...)
	dst = append(dst, chain...)
	dst = append(dst, "\ntime="...)
	dst = append(dst, timeStr...)
	dst = append(dst, "\nfinal="...)
	dst = strconv.AppendBool(dst, final)
	dst = append(dst, "\nkey_id="...)
	dst = append(dst, keyID...)
	return append(dst, '\n')
}

// KeyID returns the fingerprint of an Ed25519 public key written in
// checkpoints: the first 16 bytes of SHA-256(public key), in hex.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:16])
}

// appendCheckpointBody appends the members of a checkpoint record after its
// seq/time/prev. seq, chain (== prev) and timeStr are those of the record.
func appendCheckpointBody(dst []byte, key ed25519.PrivateKey, keyID string, seq uint64, chain, timeStr string, final bool, scratch []byte) ([]byte, []byte) {
	covered := seq - 1
	msg := appendSignedMessage(scratch[:0], seq, covered, chain, timeStr, final, keyID)
	sig := ed25519.Sign(key, msg)
	dst = append(dst, `"type":"`+TypeCheckpoint+`","`+fieldChain+`":"`...)
	dst = append(dst, chain...)
	dst = append(dst, `","`+fieldCoveredSeq+`":`...)
	dst = strconv.AppendUint(dst, covered, 10)
	dst = append(dst, `,"`+fieldFinal+`":`...)
	dst = strconv.AppendBool(dst, final)
	dst = append(dst, `,"`+fieldKeyID+`":"`...)
	dst = append(dst, keyID...)
	dst = append(dst, `","`+fieldSig+`":"`...)
	dst = base64.StdEncoding.AppendEncode(dst, sig)
	dst = append(dst, '"')
	return dst, msg
}
