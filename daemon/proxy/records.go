package proxy

import (
	"crypto/sha256"
	"log/slog"
	"time"
	"unsafe"

	"github.com/interlock-dev/interlock/daemon/approval"
	"github.com/interlock-dev/interlock/daemon/audit"
	"github.com/interlock-dev/interlock/policy"
	"github.com/interlock-dev/interlock/policy/analysis"
)

// typeConnectionRejected records a connection refused before a session
// started (bad token, no role, upstream down).
const typeConnectionRejected = "connection_rejected"

// writeAudit writes a record synchronously; a failure is counted and
// logged, and the caller refuses what the record was for (fail closed).
func (s *Server) writeAudit(log *slog.Logger, b audit.Body) error {
	err := s.cfg.Audit.Write(b)
	if err != nil {
		s.cfg.Metrics.AuditWriteErrors.Inc()
		log.Error("audit write failed", "err", err)
	}
	return err
}

func (sess *session) sessionStartRecord(b *audit.Body) {
	b.Reset(audit.TypeSessionStart)
	b.Str("session", sess.id).
		Str("user", sess.ident.Subject).
		Str("email", sess.ident.Email).
		Strs("groups", sess.ident.Groups).
		Str("issuer", sess.ident.Issuer).
		Str("auth", sess.authMode).
		Str("client_addr", sess.client.RemoteAddr().String()).
		Str("endpoint", sess.ep.Name).
		Str("database", sess.params["database"]).
		Str("application_name", sess.params["application_name"]).
		Str("upstream_user", sess.upUser)
	if o := sess.origin; o != nil {
		b.Int("pid", int64(o.PID)).Int("uid", int64(o.UID)).Int("gid", int64(o.GID)).
			Str("comm", o.Comm).Str("exe", o.Exe).Strs("cmdline", o.Cmdline).
			Str("cgroup", o.Cgroup).Uint("netns", o.Netns).
			Str("original_destination", o.OriginalDestination)
	}
}

// statementRecord fills b with a statement record. text is the whole
// message text (bounded in the record, hashed in full); sum is its SHA-256
// when already known. c is nil when the text could not be analysed.
func (sess *session) statementRecord(b *audit.Body, n uint64, c *policy.Checked, count int, text string, sum *[sha256.Size]byte, cached bool, protocol string, approved *approval.Request) {
	b.Reset(audit.TypeStatement)
	b.Str("session", sess.id).Uint("stmt", n).Str("user", sess.ident.Subject)
	if c != nil && count > 1 {
		b.Int("index", int64(c.Index)).Int("count", int64(count))
	}
	b.StrMax("text", text, sess.srv.cfg.MaxStatementBytes)
	if sum != nil {
		b.Hex("text_sha256", sum[:])
	} else {
		b.SHA256("text_sha256", text)
	}
	if c != nil && cached && approved == nil {
		b.Fields(sess.verdictFields(c, protocol))
	} else {
		appendVerdict(b, c, protocol, approved)
	}
	b.Bool("cached", cached)
}

// appendVerdict appends what a statement record says of the analysis and
// the decision (protocol to reason).
func appendVerdict(b *audit.Body, c *policy.Checked, protocol string, approved *approval.Request) {
	b.Str("protocol", protocol)
	if c == nil {
		return
	}
	analysisFields(b, c.Statement)
	if c.Prepared != nil {
		b.Str("executes_fingerprint", c.Prepared.Fingerprint)
	}
	if approved != nil {
		b.Str("decision", "approved").Str("reason", c.Decision.Reason)
		approved.AppendAudit(b)
	} else {
		decisionFields(b, c.Decision)
	}
}

// verdictMemo is what a session derives once from a cached policy
// verdict: the policy cache answers a repeated statement with the same
// *policy.Checked, shared and immutable, and holding it as the memo's key
// keeps its address from being reused for another.
type verdictMemo struct {
	// fields are the verdict's encoded audit fields, one entry per
	// protocol the statement came by (see verdictFields).
	fields []protocolFields
	// masks are its masking contexts, once masksOK (see memoMasks).
	masks   []*maskCtx
	masksOK bool
}

type protocolFields struct {
	protocol string
	fields   audit.Fields
}

// maxVerdictMemos bounds the verdicts a session remembers (a few hundred
// bytes each); the policy's own memo of a session's statements holds 128
// by default.
const maxVerdictMemos = 128

// memo returns the session's memo of a cached verdict, new if need be.
func (sess *session) memo(c *policy.Checked) *verdictMemo {
	fe := &sess.fe
	if m, ok := fe.memos[c]; ok {
		return m
	}
	if fe.memos == nil || len(fe.memos) >= maxVerdictMemos {
		fe.memos = make(map[*policy.Checked]*verdictMemo)
	}
	m := new(verdictMemo)
	fe.memos[c] = m
	return m
}

// verdictFields returns the verdict fields of a cached verdict, encoded
// once per session and protocol.
func (sess *session) verdictFields(c *policy.Checked, protocol string) audit.Fields {
	m := sess.memo(c)
	for _, pf := range m.fields {
		if pf.protocol == protocol {
			return pf.fields
		}
	}
	b := &sess.fe.scratch
	b.Reset(audit.TypeStatement)
	mark := b.Mark()
	appendVerdict(b, c, protocol, nil)
	f := b.Cut(mark)
	m.fields = append(m.fields, protocolFields{protocol, f})
	return f
}

func analysisFields(b *audit.Body, st *analysis.Statement) {
	if st == nil {
		return
	}
	b.Str("fingerprint", st.Fingerprint).
		Str("command", st.Command).
		Strs("kinds", st.Kinds).
		Strs("tables_read", st.TablesRead).
		Strs("tables_written", st.TablesWritten)
	if len(st.Functions) > 0 {
		b.Strs("functions", st.Functions)
	}
}

func decisionFields(b *audit.Body, d policy.Decision) {
	if d.Allow {
		b.Str("decision", "allow")
	} else {
		b.Str("decision", "deny")
	}
	b.Str("reason", d.Reason)
}

// auditDenied records a refused text. res may be nil (refused before
// policy) and may hold several statements.
func (sess *session) auditDenied(res *policy.Result, text, reason, protocol string) {
	sess.countStatements(res, false)
	fe := &sess.fe
	fe.stmt++
	b := &fe.body
	b.Reset(audit.TypeStatement)
	b.Str("session", sess.id).Uint("stmt", fe.stmt).Str("user", sess.ident.Subject)
	b.StrMax("text", text, sess.srv.cfg.MaxStatementBytes)
	b.SHA256("text_sha256", text)
	b.Str("protocol", protocol)
	if res != nil && len(res.Statements) == 1 {
		analysisFields(b, res.Statements[0].Statement)
	} else if res != nil {
		var kinds []string
		for _, c := range res.Statements {
			if c.Statement != nil {
				kinds = append(kinds, c.Statement.Kinds...)
			}
		}
		b.Strs("kinds", kinds).Int("count", int64(len(res.Statements)))
	}
	b.Str("decision", "deny").Str("reason", reason)
	// The statement is refused anyway; a failure is counted and logged.
	_ = sess.srv.writeAudit(sess.log, *b)
}

// resultRecord fills b with how statement n ended.
func (sess *session) resultRecord(b *audit.Body, n uint64, tag []byte, errCode, errMsg string, d time.Duration, status string) {
	b.Reset(audit.TypeStatementResult)
	b.Str("session", sess.id).Uint("stmt", n).Str("status", status)
	if len(tag) > 0 {
		b.Str("tag", unsafe.String(&tag[0], len(tag)))
		if rows, ok := tagRows(tag); ok {
			b.Uint("rows", rows)
		}
	}
	if errCode != "" {
		b.Str("error_code", errCode).Str("error", errMsg)
	}
	b.Duration("duration", d)
}

func (sess *session) sessionEndRecord(b *audit.Body, reason string) {
	b.Reset(audit.TypeSessionEnd)
	b.Str("session", sess.id).Str("user", sess.ident.Subject).
		Uint("statements", sess.fe.stmt).
		Duration("duration", time.Since(sess.start)).
		Str("reason", reason)
}

// primaryKind is the most consequential kind of a statement, for metrics.
func primaryKind(st *analysis.Statement) string {
	if st == nil || len(st.Kinds) == 0 {
		return "unknown"
	}
	best, rank := st.Kinds[0], -1
	for _, k := range st.Kinds {
		if r := kindRank[k]; r > rank {
			best, rank = k, r
		}
	}
	return best
}

var kindRank = map[string]int{
	analysis.KindSelect: 1, analysis.KindSet: 2, analysis.KindTransaction: 2, analysis.KindUtility: 3,
	analysis.KindCopyTo: 4, analysis.KindInsert: 5, analysis.KindCopyFrom: 5, analysis.KindUpdate: 6,
	analysis.KindMerge: 6, analysis.KindDelete: 7, analysis.KindProcedural: 8, analysis.KindFunctionCall: 8,
	analysis.KindGrant: 9, analysis.KindRoleChange: 9, analysis.KindDDL: 10,
}

// tagRows returns the row count at the end of a command tag ("INSERT 0 5").
func tagRows(tag []byte) (uint64, bool) {
	i := len(tag)
	for i > 0 && tag[i-1] >= '0' && tag[i-1] <= '9' {
		i--
	}
	if i == len(tag) || i == 0 || tag[i-1] != ' ' {
		return 0, false
	}
	var n uint64
	for _, c := range tag[i:] {
		n = n*10 + uint64(c-'0')
	}
	return n, true
}
