package proxy

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/interlock-dev/interlock/daemon/audit"
	"github.com/interlock-dev/interlock/daemon/pgwire"
)

// backendState is owned by the backend loop.
type backendState struct {
	body audit.Body
	// last is when the previous statement of the current query ended.
	last time.Time
	// errResp is scratch space for decoding ErrorResponse.
	errResp pgproto3.ErrorResponse
}

var errUpstreamGone = errors.New("upstream connection lost")

// backendLoop reads server messages, tracks what they answer and writes
// them to the client.
func (sess *session) backendLoop(ctx context.Context) error {
	for {
		typ, n, err := sess.ur.NextHeader()
		if err != nil {
			return fmt.Errorf("%w: %w", errUpstreamGone, err)
		}
		if n > streamAbove && (typ == 'D' || typ == 'd') {
			// A huge row or COPY chunk: stream it, never hold it.
			sess.cwMu.Lock()
			err := sess.ur.Stream(sess.cw)
			sess.cwMu.Unlock()
			if err != nil {
				return fmt.Errorf("stream to client: %w", err)
			}
			continue
		}
		msg, err := sess.ur.Body()
		if err != nil {
			return fmt.Errorf("%w: %w", errUpstreamGone, err)
		}
		out := msg.Raw
		switch typ {
		case 'V':
			if o, ok := sess.ops.front(); ok && o.kind == opFunction && o.count > 0 {
				sess.deferResult(o.first, nil, "", "", time.Since(o.start), "ok")
			}
		case 'D', 'd', 'T', 't', 'N', 'A', 'G', 'H', 'W', 'c':
			// DataRow, CopyData, RowDescription (a query's), parameter
			// descriptions, notices, notifications, COPY responses and
			// function results pass through.
			if typ == 'T' {
				sess.popIf(opDescribe)
			}
		case 'C', 'I', 's':
			sess.onComplete(typ, msg.Body)
		case 'E':
			out = sess.onError(msg)
		case 'Z':
			sess.onReady(msg.Body)
		case '1':
			sess.popIf(opParse)
		case '2':
			sess.popIf(opBind)
		case '3':
			sess.popIf(opClose)
		case 'n':
			sess.popIf(opDescribe)
		case 'S':
			sess.onParameterStatus(msg.Body)
		case 'K':
			// The client has the proxy's key; the server's never leaves.
			out = nil
		default:
			sess.log.Warn("unexpected message from server", "type", string(typ))
		}
		sess.cwMu.Lock()
		if out != nil {
			sess.cw.Append(out)
		}
		if sess.ur.Buffered() == 0 || sess.cw.Full() {
			err = sess.cw.Flush()
		}
		sess.cwMu.Unlock()
		if err != nil {
			return fmt.Errorf("%w: write: %w", errClientGone, err)
		}
	}
}

// popIf pops the oldest op when it is of kind k.
func (sess *session) popIf(k opKind) {
	if o, ok := sess.ops.front(); ok && o.kind == k {
		sess.ops.pop()
	}
}

// onComplete handles CommandComplete, EmptyQueryResponse and
// PortalSuspended: one statement ended.
func (sess *session) onComplete(typ byte, body []byte) {
	o, ok := sess.ops.front()
	if !ok {
		return
	}
	var tag []byte
	status := "ok"
	switch typ {
	case 'C':
		tag, _, _ = cut(body)
	case 'I':
		status = "empty"
	case 's':
		status = "suspended"
	}
	switch o.kind {
	case opQuery:
		if o.deny == nil && o.done < o.count {
			sess.deferResult(o.first+uint64(o.done), tag, "", "", sess.since(o), status)
		}
		sess.ops.advance()
	case opExecute:
		if o.deny == nil && o.count > 0 {
			sess.deferResult(o.first, tag, "", "", time.Since(o.start), status)
		}
		sess.ops.pop()
	}
}

// since is how long the current statement of query o took.
func (sess *session) since(o op) time.Duration {
	now := time.Now()
	from := o.start
	if o.done > 0 && sess.be.last.After(from) {
		from = sess.be.last
	}
	sess.be.last = now
	return now.Sub(from)
}

func (sess *session) deferResult(n uint64, tag []byte, code, msg string, d time.Duration, status string) {
	sess.resultRecord(&sess.be.body, n, tag, code, msg, d, status)
	sess.srv.cfg.Audit.Defer(sess.be.body)
}

// onError handles an ErrorResponse and returns what the client gets: the
// policy's denial in place of the substitute's error.
func (sess *session) onError(msg pgwire.Msg) []byte {
	o, ok := sess.ops.front()
	if !ok {
		return msg.Raw // asynchronous (FATAL on admin shutdown, ...)
	}
	if o.deny != nil {
		out, err := o.deny.Encode(nil)
		if err == nil {
			sess.dropUntilSync(o)
			return out
		}
	}
	e := &sess.be.errResp
	if err := e.Decode(msg.Body); err != nil {
		e.Code, e.Message = "", "undecodable error"
	}
	switch o.kind {
	case opQuery:
		if o.done < o.count {
			sess.deferResult(o.first+uint64(o.done), nil, e.Code, e.Message, sess.since(o), "error")
			for i := o.done + 1; i < o.count; i++ {
				sess.deferResult(o.first+uint64(i), nil, "", "", 0, "not_run")
			}
		}
	case opFunction:
		if o.count > 0 {
			sess.deferResult(o.first, nil, e.Code, e.Message, time.Since(o.start), "error")
		}
	case opSync:
		// Ended by ReadyForQuery.
	default:
		if o.kind == opExecute && o.count > 0 {
			sess.deferResult(o.first, nil, e.Code, e.Message, time.Since(o.start), "error")
		}
		sess.dropUntilSync(o)
	}
	return msg.Raw
}

// dropUntilSync pops the failed extended-protocol op and those the server
// skips after it, up to the next Sync, recording skipped executions.
func (sess *session) dropUntilSync(failed op) {
	if failed.kind == opQuery || failed.kind == opFunction || failed.kind == opSync {
		return
	}
	sess.ops.pop()
	for {
		o, ok := sess.ops.front()
		if !ok || o.kind == opSync || o.kind == opQuery || o.kind == opFunction {
			return
		}
		if o.kind == opExecute && o.deny == nil && o.count > 0 {
			sess.deferResult(o.first, nil, "", "", 0, "not_run")
		}
		sess.ops.pop()
	}
}

// onReady handles ReadyForQuery: the oldest Query, Sync or FunctionCall
// (and anything before it) is finished.
func (sess *session) onReady(body []byte) {
	for {
		o, ok := sess.ops.front()
		if !ok {
			break
		}
		sess.ops.pop()
		if o.kind == opQuery || o.kind == opSync || o.kind == opFunction {
			break
		}
	}
	if len(body) == 1 {
		sess.stateMu.Lock()
		sess.txStatus = body[0]
		sess.stateMu.Unlock()
	}
}

// onParameterStatus tracks the settings that change how text is lexed.
func (sess *session) onParameterStatus(body []byte) {
	name, rest, _ := cut(body)
	val, _, _ := cut(rest)
	switch string(name) {
	case "standard_conforming_strings":
		sess.stateMu.Lock()
		sess.scs = string(val) == "on"
		sess.stateMu.Unlock()
	case "client_encoding":
		sess.stateMu.Lock()
		sess.encoding = string(val)
		sess.stateMu.Unlock()
	}
}

// safeEncoding reports whether every byte of a multibyte character in enc
// has the high bit set, so quotes and backslashes cannot hide inside one.
// SJIS, BIG5, GBK, UHC, GB18030 and JOHAB are not.
func safeEncoding(enc string) bool {
	switch enc {
	case "SJIS", "SHIFT_JIS_2004", "BIG5", "GBK", "UHC", "GB18030", "JOHAB":
		return false
	}
	return true
}
