package proxy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/interlock-dev/interlock/daemon/pgwire"
	"github.com/interlock-dev/interlock/policy"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgproto3"
)

// onFunctionCall checks a FunctionCall message. It names a function by
// OID; the catalog gives its name, and the policy decides the equivalent
// "SELECT schema.function()" (kinds, the function). A function that cannot
// be resolved is refused.
func (sess *session) onFunctionCall(ctx context.Context, msg pgwire.Msg) error {
	var fc pgproto3.FunctionCall
	if err := fc.Decode(msg.Body); err != nil {
		sess.terminate(pgwire.Fatal(pgwire.CodeProtocolViolation, "invalid FunctionCall message"))
		return err
	}
	text := fmt.Sprintf("FunctionCall oid=%d", fc.Function)
	var res *policy.Result
	reason := sess.precheck()
	if reason == "" {
		name, err := sess.functionName(ctx, fc.Function)
		if err != nil {
			sess.log.Warn("resolve FunctionCall", "oid", fc.Function, "err", err)
			reason = fmt.Sprintf("the function with OID %d called by FunctionCall cannot be resolved, so it cannot be checked", fc.Function)
		} else {
			text = "SELECT " + name + "()"
			res, err = sess.check.Check(ctx, text, policy.SCSOn)
			reason = sess.verdict(res, err)
			if reason == "" && res.NeedsApproval() {
				reason = "this function call needs approval; call it with SELECT so it can be held for approval"
			}
		}
	}
	if reason != "" {
		sess.auditDenied(res, text, reason, "function_call")
		sess.substituteQuery(reason)
		return nil
	}
	fe := &sess.fe
	fe.stmt++
	sess.statementRecord(&fe.body, fe.stmt, &res.Statements[0], 1, text, nil, res.Cached, "function_call", nil)
	if err := sess.srv.writeAudit(sess.log, fe.body); err != nil {
		fe.stmt--
		sess.countStatements(res, false)
		sess.substituteQuery("the audit log cannot be written, so no statement can run")
		return nil
	}
	sess.countStatements(res, true)
	sess.ops.push(op{kind: opFunction, first: fe.stmt, count: 1, start: time.Now()})
	sess.uw.Append(msg.Raw)
	return nil
}

// functionName resolves a function OID to a quoted, schema-qualified name.
func (sess *session) functionName(ctx context.Context, oid uint32) (string, error) {
	if sess.ep.Catalog == nil {
		return "", errors.New("no catalog connection configured")
	}
	name, err := sess.ep.Catalog.FunctionName(ctx, sess.params["database"], oid)
	if err != nil {
		return "", err
	}
	schema, fn, _ := strings.Cut(name, ".")
	return pgx.Identifier{schema, fn}.Sanitize(), nil
}
