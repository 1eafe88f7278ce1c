package proxy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/interlock-dev/interlock/daemon/approval"
	"github.com/interlock-dev/interlock/daemon/pgwire"
	"github.com/interlock-dev/interlock/policy"
	"github.com/interlock-dev/interlock/policy/analysis"
	"github.com/jackc/pgx/v5/pgproto3"
)

// The extended query protocol: Parse, Bind, Execute, Close.

// onParse decides a Parse message when it arrives; a denied Parse is
// replaced and the rest of the pipeline is skipped until Sync, as the
// server would after an error.
func (sess *session) onParse(ctx context.Context, msg pgwire.Msg) error {
	name, rest, ok := cut(msg.Body)
	text, _, ok2 := cut(rest)
	if !ok || !ok2 {
		sess.terminate(pgwire.Fatal(pgwire.CodeProtocolViolation, "invalid Parse message"))
		return errors.New("invalid Parse message")
	}
	fe := &sess.fe
	scs := sess.scsMode()
	// The prepared statement outlives the read buffer: copy its text.
	textS := string(text)
	var res *policy.Result
	reason := sess.precheck()
	if reason == "" {
		var err error
		res, err = sess.check.CheckParse(ctx, string(name), textS, scs)
		reason = sess.verdict(res, err)
	}
	if reason == "" && len(res.Statements) > 1 {
		reason = "cannot insert multiple commands into a prepared statement"
	}
	if reason != "" {
		sess.auditDenied(res, textS, reason, "extended")
		if len(name) == 0 {
			fe.unnamed = nil
		}
		sess.ops.push(op{kind: opParse, deny: denial(reason), start: time.Now()})
		_ = sess.uw.Send(&pgproto3.Parse{Name: string(name), Query: deniedSQL})
		fe.discarding = true
		return nil
	}
	p := &prepared{name: string(name), text: textS, sum: sha256.Sum256([]byte(textS)), scs: scs}
	if res.NeedsApproval() {
		var pm pgproto3.Parse
		if err := pm.Decode(msg.Body); err == nil {
			p.needsApproval, p.types = true, pm.ParameterOIDs
		}
	}
	if len(name) == 0 {
		fe.unnamed = p
	} else {
		fe.named[p.name] = p
	}
	sess.forward(msg, opParse)
	return nil
}

func (sess *session) onBind(msg pgwire.Msg) error {
	portal, rest, ok := cut(msg.Body)
	stmt, _, ok2 := cut(rest)
	if !ok || !ok2 {
		sess.terminate(pgwire.Fatal(pgwire.CodeProtocolViolation, "invalid Bind message"))
		return errors.New("invalid Bind message")
	}
	fe := &sess.fe
	var p *prepared
	if len(stmt) == 0 {
		p = fe.unnamed
	} else {
		p = fe.named[string(stmt)]
	}
	var params *approval.Params
	if p != nil && p.needsApproval {
		var bm pgproto3.Bind
		if err := bm.Decode(msg.Body); err == nil {
			params = &approval.Params{Formats: bm.ParameterFormatCodes, Values: bm.Parameters, Types: p.types}
			params = params.Clone()
		}
	}
	if len(portal) == 0 {
		fe.unnamedP, fe.unnamedParams = p, params
	} else if p != nil {
		fe.portals[string(portal)] = p
		if params != nil {
			fe.params[string(portal)] = params
		} else {
			delete(fe.params, string(portal))
		}
	} else {
		delete(fe.portals, string(portal))
		delete(fe.params, string(portal))
	}
	sess.forward(msg, opBind)
	return nil
}

// onExecute audits the statement behind a portal before it runs. The
// decision is re-checked (a memo hit) so a policy reload applies to
// statements prepared before it.
func (sess *session) onExecute(ctx context.Context, msg pgwire.Msg, described bool) error {
	portal, rest, ok := cut(msg.Body)
	if !ok {
		sess.terminate(pgwire.Fatal(pgwire.CodeProtocolViolation, "invalid Execute message"))
		return errors.New("invalid Execute message")
	}
	var maxRows uint32
	if len(rest) >= 4 {
		maxRows = binary.BigEndian.Uint32(rest)
	}
	fe := &sess.fe
	p, params := fe.unnamedP, fe.unnamedParams
	if len(portal) != 0 {
		p, params = fe.portals[string(portal)], fe.params[string(portal)]
	}
	var res *policy.Result
	var reason string
	if p == nil {
		// A portal the proxy did not see bound (e.g. a SQL cursor): the
		// proxy cannot tell what it runs, so it is refused.
		reason = fmt.Sprintf("portal %q was not created through this session's Bind", portal)
	} else if reason = sess.precheck(); reason == "" {
		var err error
		res, err = sess.check.Recheck(ctx, p.res, p.text, p.scs)
		p.res = res
		reason = sess.verdict(res, err)
	}
	var c *policy.Checked
	var masks []*maskCtx
	if reason == "" {
		if len(res.Statements) > 0 {
			c = &res.Statements[0]
		}
		masks, reason = sess.memoMasks(c, res.Cached, func() ([]*maskCtx, string) { return sess.executeMasks(c, p) })
	}
	if reason != "" {
		text := ""
		if p != nil {
			text = p.text
		}
		sess.denyExecute(res, text, reason, denial(reason))
		return nil
	}
	var approved *approval.Request
	if res.NeedsApproval() {
		portalName := string(portal)
		r, e := sess.awaitApproval(ctx, p.text, params, res.Decision.RequireApproval)
		if e != nil {
			sess.denyExecute(res, p.text, e.Message, e)
			return nil
		}
		approved = r
		portal = []byte(portalName)
		msg = pgwire.Msg{}
	}
	fe.stmt++
	sess.statementRecord(&fe.body, fe.stmt, c, 1, p.text, &p.sum, res.Cached, "extended", approved)
	if err := sess.srv.writeAudit(sess.log, fe.body); err != nil {
		fe.stmt--
		sess.countStatements(res, false)
		sess.substitute(opExecute, denial("the audit log cannot be written, so no statement can run"))
		fe.discarding = true
		return nil
	}
	sess.countStatements(res, true)
	if sess.rec != nil {
		sess.rec.Statement(fe.stmt, p.text)
	}
	if masks != nil && !(approved == nil && sess.maskByClientDescribe(described, portal, masks)) {
		// The proxy needs the portal's row description (with its result
		// formats) to mask what Execute returns: ask for it first.
		sess.ops.push(op{kind: opDescribe, internal: true, masks: masks, first: fe.stmt})
		_ = sess.uw.Send(&pgproto3.Describe{ObjectType: 'P', Name: string(portal)})
	}
	sess.ops.push(op{kind: opExecute, first: fe.stmt, count: 1, start: time.Now(), masks: masks})
	if msg.Raw == nil {
		// Held: re-encode the Execute (the read buffer moved on).
		_ = sess.uw.Send(&pgproto3.Execute{Portal: string(portal), MaxRows: maxRows})
	} else {
		sess.uw.Append(msg.Raw)
	}
	return nil
}

// maskByClientDescribe reports whether the answer to the client's own
// Describe of portal, the message right before this Execute and not yet
// flushed, builds the Execute's masking plan; it then carries masks.
func (sess *session) maskByClientDescribe(described bool, portal []byte, masks []*maskCtx) bool {
	return described && bytes.Equal(sess.fe.described, portal) && sess.ops.describeLast(masks, sess.fe.stmt)
}

// denyExecute refuses an Execute: audited, the failing substitute sent, and
// the rest of the pipeline skipped until Sync as the server would.
func (sess *session) denyExecute(res *policy.Result, text, reason string, e *pgproto3.ErrorResponse) {
	sess.auditDenied(res, text, reason, "extended")
	sess.substitute(opExecute, e)
	sess.fe.discarding = true
}

// executeMasks returns the masking context of the statement behind a
// portal, or a reason it cannot be masked safely.
func (sess *session) executeMasks(c *policy.Checked, p *prepared) ([]*maskCtx, string) {
	mc := sess.maskContext(c)
	if mc == nil {
		return nil, ""
	}
	if slices.Contains(c.Statement.Kinds, analysis.KindCopyTo) {
		cp, err := analysis.CopyOptions(p.text, analysis.Options{StandardConformingStrings: p.scs != policy.SCSOff})
		if err != nil {
			return nil, "the COPY statement's options could not be read, so its output cannot be masked"
		}
		mc.copy = cp
	}
	return []*maskCtx{mc}, ""
}

func (sess *session) onClose(msg pgwire.Msg) {
	if len(msg.Body) >= 2 {
		fe := &sess.fe
		name, _, _ := cut(msg.Body[1:])
		switch msg.Body[0] {
		case 'S':
			if len(name) == 0 {
				fe.unnamed = nil
			} else {
				delete(fe.named, string(name))
			}
		case 'P':
			if len(name) == 0 {
				fe.unnamedP = nil
			} else {
				delete(fe.portals, string(name))
			}
		}
	}
	sess.forward(msg, opClose)
}

// substituteExecute fails an Execute in the extended protocol without side
// effects: a Parse of a statement that cannot parse (an existing name fails
// too), so the server errors and skips to Sync as it would have.
func (sess *session) substituteExecute() {
	_ = sess.uw.Send(&pgproto3.Parse{Name: "interlock_denied", Query: deniedSQL})
}
