package proxy

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unsafe"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/interlock-dev/interlock/daemon/approval"
	"github.com/interlock-dev/interlock/daemon/audit"
	"github.com/interlock-dev/interlock/daemon/pgwire"
	"github.com/interlock-dev/interlock/policy"
	"github.com/interlock-dev/interlock/policy/analysis"
)

// deniedSQL replaces a denied statement on its way upstream. It can never
// parse, so the server answers it with an error (which the proxy rewrites
// into the policy's) and handles transaction state and error recovery
// exactly as for any failed statement.
const deniedSQL = "INTERLOCK_STATEMENT_DENIED_BY_POLICY"

// streamAbove is the size above which CopyData and DataRow messages are
// streamed through instead of buffered.
const streamAbove = 256 << 10

// prepared is a statement the client created with Parse.
type prepared struct {
	name string
	text string
	sum  [sha256.Size]byte
	scs  policy.SCS
	// needsApproval: policy holds this statement for approval; its Binds'
	// parameters are kept, since an approval binds to them.
	needsApproval bool
	types         []uint32 // the Parse's parameter type OIDs
	// res is the policy's last answer for an Execute of it (see
	// policy.Session.Recheck).
	res *policy.Result
}

// frontendState is owned by the frontend loop.
type frontendState struct {
	stmt       uint64 // statements numbered in this session
	discarding bool   // after a denial in the extended protocol, until Sync
	// described is the portal of a Describe('P') forwarded as the last
	// message and not flushed yet: a masked Execute of that portal takes
	// the plan from its answer instead of asking for its own (libpq sends
	// Bind, Describe, Execute, Sync). Only valid while describedOK.
	described   []byte
	describedOK bool
	named       map[string]*prepared
	unnamed     *prepared
	portals     map[string]*prepared
	unnamedP    *prepared
	// params of portals bound to statements that need approval.
	params        map[string]*approval.Params
	unnamedParams *approval.Params
	body          audit.Body
	// memos holds what the session derived from cached verdicts (see
	// verdictMemo); scratch encodes their audit fields.
	memos      map[*policy.Checked]*verdictMemo
	scratch    audit.Body
	terminated bool
	// cursors maps SQL cursors (DECLARE) to the lineage of their query,
	// for masking what FETCH returns.
	cursors map[string][]analysis.OutputColumn
}

// errClientGone ends the frontend loop when the client disconnects.
var errClientGone = errors.New("client disconnected")

// errTerminated ends the frontend loop at the first message read once the
// session is ending (termErr).
var errTerminated = errors.New("session terminated")

// frontendLoop reads client messages, checks and forwards them.
func (sess *session) frontendLoop(ctx context.Context) error {
	fe := &sess.fe
	fe.named = map[string]*prepared{}
	fe.portals = map[string]*prepared{}
	fe.params = map[string]*approval.Params{}
	fe.cursors = map[string][]analysis.OutputColumn{}
	limit := sess.srv.cfg.MaxMessageSize
	for {
		typ, n, err := sess.cr.NextHeader()
		if err != nil {
			return fmt.Errorf("%w: %w", errClientGone, err)
		}
		if e := sess.termErr.Load(); e != nil {
			sess.terminate(e)
			return errTerminated
		}
		if typ == 'd' && n > streamAbove {
			// Large CopyData: no size limit, streamed through.
			if fe.discarding {
				err = sess.cr.Discard()
			} else {
				err = sess.cr.Stream(sess.uw)
			}
			if err != nil {
				return err
			}
			continue
		}
		if typ != 'd' && n > limit {
			sess.terminate(pgwire.Fatal(pgwire.CodeProgramLimitExceeded,
				fmt.Sprintf("message of type %q is %d bytes; Interlock's limit is %d bytes (limits.max_message_size)", typ, n, limit)))
			return fmt.Errorf("client message too large: %d bytes", n)
		}
		msg, err := sess.cr.Body()
		if err != nil {
			return fmt.Errorf("%w: %w", errClientGone, err)
		}
		if err := sess.onClientMessage(ctx, msg); err != nil {
			return err
		}
		if fe.terminated {
			return sess.uw.Flush()
		}
		if !sess.cr.HasMessage() || sess.uw.Full() {
			fe.describedOK = false // the server may answer it now
			if err := sess.uw.Flush(); err != nil {
				return fmt.Errorf("write upstream: %w", err)
			}
		}
	}
}

func (sess *session) onClientMessage(ctx context.Context, msg pgwire.Msg) error {
	fe := &sess.fe
	described := fe.describedOK
	fe.describedOK = false
	if fe.discarding && msg.Type != 'S' && msg.Type != 'X' {
		return nil // the server would ignore it too, until Sync
	}
	switch msg.Type {
	case 'Q':
		return sess.onQuery(ctx, msg)
	case 'P':
		return sess.onParse(ctx, msg)
	case 'B':
		return sess.onBind(msg)
	case 'E':
		return sess.onExecute(ctx, msg, described)
	case 'D':
		sess.forward(msg, opDescribe)
		if len(msg.Body) > 0 && msg.Body[0] == 'P' {
			name, _, _ := cut(msg.Body[1:])
			fe.described = append(fe.described[:0], name...)
			fe.describedOK = true
		}
	case 'C':
		sess.onClose(msg)
	case 'S':
		fe.discarding = false
		sess.forward(msg, opSync)
	case 'H':
		sess.uw.Append(msg.Raw)
	case 'F':
		return sess.onFunctionCall(ctx, msg)
	case 'd', 'c', 'f':
		// COPY FROM STDIN data: the statement that started it was checked.
		sess.uw.Append(msg.Raw)
	case 'X':
		sess.uw.Append(msg.Raw)
		fe.terminated = true
	default:
		sess.terminate(pgwire.Fatal(pgwire.CodeProtocolViolation, fmt.Sprintf("invalid frontend message type %d", msg.Type)))
		return fmt.Errorf("invalid frontend message type %d", msg.Type)
	}
	return nil
}

func (sess *session) forward(msg pgwire.Msg, kind opKind) {
	sess.ops.push(op{kind: kind})
	sess.uw.Append(msg.Raw)
}

// scsMode is what the proxy knows of standard_conforming_strings now.
func (sess *session) scsMode() policy.SCS {
	if sess.ops.len() > 0 {
		// Statements in flight may change it before the server parses
		// this one.
		return policy.SCSUnknown
	}
	sess.stateMu.Lock()
	on := sess.scs
	sess.stateMu.Unlock()
	if on {
		return policy.SCSOn
	}
	return policy.SCSOff
}

// precheck returns a denial that applies to any statement of the session,
// before policy: an encoding the analysis cannot read safely.
func (sess *session) precheck() string {
	sess.stateMu.Lock()
	enc := sess.encoding
	sess.stateMu.Unlock()
	if !safeEncoding(enc) {
		return fmt.Sprintf("client_encoding %s is not supported by Interlock (its multibyte characters can hide quotes and backslashes); use UTF8", enc)
	}
	return ""
}

// onQuery handles a simple-protocol Query: every statement in it is
// decided; if any is denied, none runs.
func (sess *session) onQuery(ctx context.Context, msg pgwire.Msg) error {
	text := cstring(msg.Body)
	var res *policy.Result
	reason := sess.precheck()
	if reason == "" {
		var err error
		res, err = sess.check.Check(ctx, text, sess.scsMode())
		reason = sess.verdict(res, err)
	}
	fe := &sess.fe
	first := fe.stmt + 1
	if reason != "" {
		sess.auditDenied(res, text, reason, "simple")
		sess.substituteQuery(reason)
		return nil
	}
	// Whether the results can be masked is known before anything is
	// approved or recorded as allowed.
	masks, reason := sess.queryMasks(res, text)
	if reason != "" {
		sess.auditDenied(res, text, reason, "simple")
		sess.substituteQuery(reason)
		return nil
	}
	var approved *approval.Request
	if res.NeedsApproval() {
		// The text outlives the read buffer while it is held.
		held := strings.Clone(text)
		r, e := sess.awaitApproval(ctx, held, nil, res.Decision.RequireApproval)
		if e != nil {
			sess.auditDenied(res, held, e.Message, "simple")
			sess.substitute(opQuery, e)
			return nil
		}
		approved, text = r, held
		msg = pgwire.Msg{}
	}
	for i := range res.Statements {
		fe.stmt++
		sess.statementRecord(&fe.body, fe.stmt, &res.Statements[i], len(res.Statements), text, nil, res.Cached, "simple", approved)
		if i < len(res.Statements)-1 {
			sess.srv.cfg.Audit.Defer(fe.body)
			continue
		}
		if err := sess.srv.writeAudit(sess.log, fe.body); err != nil {
			fe.stmt = first - 1
			sess.countStatements(res, false)
			sess.substituteQuery("the audit log cannot be written, so no statement can run")
			return nil
		}
	}
	sess.countStatements(res, true)
	if sess.rec != nil {
		for n := first; n < first+uint64(len(res.Statements)); n++ {
			sess.rec.Statement(n, text)
		}
	}
	sess.ops.push(op{kind: opQuery, first: first, count: len(res.Statements), start: time.Now(), masks: masks})
	if msg.Raw == nil {
		// Held: the read buffer moved on; send the approved text.
		_ = sess.uw.Send(&pgproto3.Query{String: text})
	} else {
		sess.uw.Append(msg.Raw)
	}
	return nil
}

// queryMasks returns the masking contexts of a Query's statements (nil
// when none masks) and remembers declared cursors. reason is set when a
// statement cannot be masked safely.
func (sess *session) queryMasks(res *policy.Result, text string) ([]*maskCtx, string) {
	var c *policy.Checked // only a single statement's are remembered
	if len(res.Statements) == 1 {
		c = &res.Statements[0]
	}
	return sess.memoMasks(c, res.Cached, func() ([]*maskCtx, string) { return sess.buildQueryMasks(res, text) })
}

func (sess *session) buildQueryMasks(res *policy.Result, text string) ([]*maskCtx, string) {
	var masks []*maskCtx
	for i := range res.Statements {
		c := &res.Statements[i]
		if st := c.Statement; st != nil && st.Declare != "" {
			sess.rememberCursor(st)
		}
		mc := sess.maskContext(c)
		if mc == nil {
			continue
		}
		if masks == nil {
			masks = make([]*maskCtx, len(res.Statements))
		}
		masks[i] = mc
		if slices.Contains(c.Statement.Kinds, analysis.KindCopyTo) {
			if len(res.Statements) > 1 {
				return nil, "COPY of masked columns must be sent as a query of its own"
			}
			cp, err := analysis.CopyOptions(text, analysis.Options{StandardConformingStrings: sess.scsMode() != policy.SCSOff})
			if err != nil {
				return nil, "the COPY statement's options could not be read, so its output cannot be masked"
			}
			mc.copy = cp
		}
	}
	return masks, ""
}

// rememberCursor keeps the lineage of a declared cursor (bounded).
func (sess *session) rememberCursor(st *analysis.Statement) {
	if len(sess.fe.cursors) >= 1024 {
		clear(sess.fe.cursors)
	}
	sess.fe.cursors[st.Declare] = st.Output
}

// verdict turns a policy result into a denial reason, or "" to run it.
func (sess *session) verdict(res *policy.Result, err error) string {
	if err != nil {
		sess.log.Warn("policy evaluation", "err", err)
	}
	switch {
	case res == nil:
		return "policy could not be evaluated"
	case res.NeedsApproval():
		return "" // the caller holds it for approval
	case !res.Allowed():
		return res.Decision.Reason
	}
	return ""
}

// substituteQuery sends the failing substitute in place of a Query and
// arranges for the server's error to be replaced by the denial.
func (sess *session) substituteQuery(reason string) {
	sess.ops.push(op{kind: opQuery, deny: denial(reason), start: time.Now()})
	_ = sess.uw.Send(&pgproto3.Query{String: deniedSQL})
}

// denial is the error a client gets for a denied statement.
func denial(reason string) *pgproto3.ErrorResponse {
	e := pgwire.Error(pgwire.CodeInsufficientPrivilege, "Interlock denied this statement: "+reason)
	e.Hint = "Policy decides what each identity may run; ask your administrator if you need access."
	return e
}

// countStatements counts decided statements by decision and kind.
func (sess *session) countStatements(res *policy.Result, allowed bool) {
	m := sess.srv.cfg.Metrics
	decision := "deny"
	if allowed {
		decision = "allow"
	}
	if res == nil {
		m.Statement(decision, "unknown").Inc()
		return
	}
	for i := range res.Statements {
		m.Statement(decision, primaryKind(res.Statements[i].Statement)).Inc()
	}
}

// cstring returns the NUL-terminated string at the start of b without
// copying. It aliases b, so it must not outlive the message.
func cstring(b []byte) string {
	s, _, _ := cut(b)
	if len(s) == 0 {
		return ""
	}
	return unsafe.String(&s[0], len(s))
}

// cut splits b at the first NUL.
func cut(b []byte) (before, after []byte, ok bool) {
	for i, c := range b {
		if c == 0 {
			return b[:i], b[i+1:], true
		}
	}
	return b, nil, false
}
