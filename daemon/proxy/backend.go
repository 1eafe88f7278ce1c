package proxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/interlock-dev/interlock/daemon/audit"
	"github.com/interlock-dev/interlock/daemon/pgwire"
	"github.com/interlock-dev/interlock/policy/mask"
)

// backendState is owned by the backend loop.
type backendState struct {
	body audit.Body
	// last is when the previous statement of the current query ended.
	last time.Time
	// errResp is scratch space for decoding ErrorResponse.
	errResp pgproto3.ErrorResponse
	// plan masks the DataRows of the current result set; copyPlan the
	// CopyData of the current COPY TO; rep says what they mask.
	plan     *mask.Plan
	copyPlan *mask.CopyPlan
	rep      maskReport
	masked   bool // the current statement had masking rules
	// streaming: the last message was a DataRow or CopyData, so the
	// server sends more without waiting for the client.
	streaming bool
	out       []byte
	rowDesc   pgproto3.RowDescription
	copyResp  pgproto3.CopyOutResponse
	plans     planMemo
}

// maxMaskedRow bounds a DataRow the proxy must hold to mask it.
const maxMaskedRow = 64 << 20

// holdRows bounds how long rows of a result still streaming are held back
// to be sent with the next ones (see backendLoop).
const holdRows = time.Millisecond

var errUpstreamGone = errors.New("upstream connection lost")

// backendLoop reads server messages, tracks what they answer and writes
// them to the client.
func (sess *session) backendLoop(ctx context.Context) error {
	// The client writer is locked once for every run of buffered messages
	// (a result set is thousands of rows) and released before any read
	// that could block.
	locked := false
	defer func() {
		if locked {
			sess.cwMu.Unlock()
		}
	}()
	// deadline: a read deadline is set on up while rows are held back in
	// cw. Mid-result the server sends more without waiting for the client,
	// so rows are held until cw is full, the result ends or the server
	// pauses for holdRows: the client gets fewer, larger writes.
	deadline := false
	for {
		if locked && !sess.ur.HasMessage() {
			var err error
			if sess.be.streaming && sess.upHold && !sess.cw.Full() {
				if err = sess.up.SetReadDeadline(time.Now().Add(holdRows)); err != nil {
					err = fmt.Errorf("%w: %w", errUpstreamGone, err)
				}
				deadline = err == nil
			} else {
				if deadline {
					deadline = false
					err = sess.endHold()
				}
				if err == nil {
					if err = sess.cw.Flush(); err != nil {
						err = fmt.Errorf("%w: write: %w", errClientGone, err)
					}
				}
			}
			sess.cwMu.Unlock()
			locked = false
			if err != nil {
				return err
			}
		}
		typ, n, err := sess.ur.NextHeader()
		if deadline && errors.Is(err, os.ErrDeadlineExceeded) {
			deadline = false
			if err := sess.releaseHeld(); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("%w: %w", errUpstreamGone, err)
		}
		sess.be.streaming = typ == 'D' || typ == 'd'
		if n > streamAbove && (typ == 'D' && sess.be.plan == nil || typ == 'd' && sess.be.copyPlan == nil) {
			// A huge row or COPY chunk: stream it, never hold it (Stream
			// writes what is held first).
			if deadline {
				deadline = false
				if err := sess.endHold(); err != nil {
					return err
				}
			}
			if sess.rec != nil {
				if o, ok := sess.ops.front(); ok {
					sess.rec.SkipRow(o.stmtNo())
				}
			}
			if !locked {
				sess.cwMu.Lock()
			}
			err := sess.ur.Stream(sess.cw)
			sess.cwMu.Unlock()
			locked = false
			if err != nil {
				return fmt.Errorf("stream to client: %w", err)
			}
			continue
		}
		if n > maxMaskedRow {
			if locked {
				sess.cwMu.Unlock()
				locked = false
			}
			sess.terminate(pgwire.Fatal(pgwire.CodeProgramLimitExceeded, fmt.Sprintf("a result message of %d bytes is too large to mask", n)))
			return fmt.Errorf("masked message of %d bytes", n)
		}
		msg, err := sess.ur.Body()
		if deadline && errors.Is(err, os.ErrDeadlineExceeded) {
			// The server paused in the middle of a message.
			deadline = false
			if locked {
				sess.cwMu.Unlock()
				locked = false
			}
			if err := sess.releaseHeld(); err != nil {
				return err
			}
			msg, err = sess.ur.Body()
		}
		if err != nil {
			return fmt.Errorf("%w: %w", errUpstreamGone, err)
		}
		if !locked {
			sess.cwMu.Lock()
			locked = true
		}
		if typ == 'D' && sess.be.plan != nil {
			if err := sess.maskedRow(msg); err != nil {
				return err
			}
			continue
		}
		out := msg.Raw
		if sess.be.copyPlan != nil && (typ == 'd' || typ == 'c') {
			if out, err = sess.maskMessage(typ, msg); err != nil {
				sess.log.Error("masking failed; ending the session", "err", err)
				sess.terminateHeld(pgwire.Fatal(pgwire.CodeSystemError, "Interlock could not mask a result and ended the session: "+err.Error()))
				return err
			}
		}
		switch typ {
		case 'V':
			if o, ok := sess.ops.front(); ok && o.kind == opFunction && o.count > 0 {
				sess.deferResult(o.first, nil, "", "", time.Since(o.start), "ok")
			}
		case 'D', 'd', 'T', 't', 'N', 'A', 'G', 'H', 'W', 'c':
			// DataRow, CopyData, RowDescription (a query's), parameter
			// descriptions, notices, notifications, COPY responses and
			// function results pass through.
			switch typ {
			case 'T':
				out = sess.onRowDescription(ctx, msg, out)
			case 'H':
				sess.onCopyOut(ctx, msg)
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
			if o, ok := sess.ops.front(); ok && o.kind == opDescribe && o.internal {
				out = nil
			}
			sess.popIf(opDescribe)
		case 'S':
			sess.onParameterStatus(msg.Body)
		case 'K':
			// The client has the proxy's key; the server's never leaves.
			out = nil
		default:
			sess.log.Warn("unexpected message from server", "type", string(typ))
		}
		if sess.rec != nil && out != nil {
			sess.record(typ, msg, out)
		}
		if out != nil {
			sess.cw.Append(out)
		}
		if sess.cw.Full() {
			if err := sess.cw.Flush(); err != nil {
				return fmt.Errorf("%w: write: %w", errClientGone, err)
			}
		}
	}
}

// endHold clears the read deadline a hold of rows set (see backendLoop).
func (sess *session) endHold() error {
	if err := sess.up.SetReadDeadline(time.Time{}); err != nil {
		return fmt.Errorf("%w: %w", errUpstreamGone, err)
	}
	return nil
}

// releaseHeld ends a hold and sends the rows held back.
func (sess *session) releaseHeld() error {
	if err := sess.endHold(); err != nil {
		return err
	}
	sess.cwMu.Lock()
	err := sess.cw.Flush()
	sess.cwMu.Unlock()
	if err != nil {
		return fmt.Errorf("%w: write: %w", errClientGone, err)
	}
	return nil
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
		sess.afterDDL(tag)
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
	sess.endResult()
}

// endResult forgets the masking plans of the result set that just ended.
func (sess *session) endResult() {
	sess.be.plan, sess.be.copyPlan, sess.be.rep, sess.be.masked = nil, nil, maskReport{}, false
}

// onRowDescription builds the masking plan of the result set it starts
// (or that the Execute after a Describe starts) and returns what to
// forward (nothing for an injected Describe).
func (sess *session) onRowDescription(ctx context.Context, msg pgwire.Msg, out []byte) []byte {
	o, ok := sess.ops.front()
	if !ok {
		return out
	}
	if o.kind == opDescribe {
		sess.ops.pop()
		if o.masks == nil {
			return out // a client's Describe of a statement or portal
		}
		// The Describe of the portal a masked Execute runs: the proxy's
		// own (consumed) or the client's right before it (forwarded).
		if sess.rec != nil {
			sess.rec.RowDescription(o.first, msg.Body)
		}
		if o.internal {
			out = nil
		}
	}
	mc := o.mask()
	if mc == nil {
		return out
	}
	sess.endResult()
	sess.be.masked = true
	// The generation is read before the plan is built from the catalog.
	gen := sess.catalogGen()
	if m := sess.be.plans.get(mc.checked, msg.Body, gen); m != nil {
		sess.be.plan, sess.be.rep = m.plan, m.rep
		return out
	}
	rd := &sess.be.rowDesc
	if err := rd.Decode(msg.Body); err != nil {
		sess.terminateHeld(pgwire.Fatal(pgwire.CodeProtocolViolation, "invalid RowDescription from the server"))
		return nil
	}
	plan, rep, err := sess.resultPlan(ctx, mc, rd.Fields)
	if err != nil {
		sess.log.Error("masking plan; every column masked", "err", err)
		plan, rep = redactAll(rd.Fields, sess.srv.hasher), maskReport{unknown: fieldNames(rd.Fields)}
	} else {
		sess.be.plans.put(mc.checked, msg.Body, gen, plan, rep)
	}
	sess.be.plan, sess.be.rep = plan, rep
	return out
}

// catalogGen is the catalog generation of the session's database.
func (sess *session) catalogGen() uint64 {
	if sess.ep.Catalog == nil {
		return 0
	}
	return sess.ep.Catalog.Generation(sess.params["database"])
}

// onCopyOut builds the masking plan of a COPY ... TO STDOUT.
func (sess *session) onCopyOut(ctx context.Context, msg pgwire.Msg) {
	o, ok := sess.ops.front()
	if !ok {
		return
	}
	mc := o.mask()
	if mc == nil {
		return
	}
	sess.endResult()
	sess.be.masked = true
	cr := &sess.be.copyResp
	if err := cr.Decode(msg.Body); err != nil {
		sess.terminateHeld(pgwire.Fatal(pgwire.CodeProtocolViolation, "invalid CopyOutResponse from the server"))
		return
	}
	plan, rep, err := sess.copyPlan(ctx, mc, len(cr.ColumnFormatCodes))
	if err != nil {
		// COPY cannot be masked safely: end the session rather than send
		// unmasked data.
		sess.log.Error("COPY masking plan", "err", err)
		sess.terminateHeld(pgwire.Fatal(pgwire.CodeSystemError, "Interlock cannot mask this COPY and ended the session: "+err.Error()))
		return
	}
	sess.be.copyPlan, sess.be.rep = plan, rep
}

// maskedRow masks a DataRow straight into the client's write buffer; the
// caller holds the writer.
func (sess *session) maskedRow(msg pgwire.Msg) error {
	out, err := sess.cw.AppendRow(sess.be.plan, msg.Body)
	if err != nil {
		sess.log.Error("masking failed; ending the session", "err", err)
		sess.terminateHeld(pgwire.Fatal(pgwire.CodeSystemError, "Interlock could not mask a result and ended the session: "+err.Error()))
		return err
	}
	if sess.rec != nil {
		if o, ok := sess.ops.front(); ok {
			sess.rec.DataRow(o.stmtNo(), out[pgwire.HeaderLen:], nil)
		}
	}
	if sess.cw.Full() {
		if err := sess.cw.Flush(); err != nil {
			return fmt.Errorf("%w: write: %w", errClientGone, err)
		}
	}
	return nil
}

// maskMessage rewrites a CopyData message (or checks CopyDone).
func (sess *session) maskMessage(typ byte, msg pgwire.Msg) ([]byte, error) {
	var err error
	be := &sess.be
	switch typ {
	case 'd':
		be.out, err = be.copyPlan.AppendCopyData(be.out[:0], msg.Body)
	case 'c':
		return msg.Raw, be.copyPlan.Finish()
	}
	return be.out, err
}

// afterDDL drops what the catalog cache knows of the session's database
// after a statement that may have changed it, so masking provenance sees
// the new definitions.
func (sess *session) afterDDL(tag []byte) {
	if sess.ep.Catalog == nil || len(tag) == 0 {
		return
	}
	switch tag[0] {
	case 'C', 'A', 'D': // CREATE ..., ALTER ..., DROP ...
		if bytes.HasPrefix(tag, []byte("CREATE ")) || bytes.HasPrefix(tag, []byte("ALTER ")) || bytes.HasPrefix(tag, []byte("DROP ")) {
			sess.ep.Catalog.Invalidate(sess.params["database"])
		}
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

// record keeps what the client gets in the session recording.
func (sess *session) record(typ byte, msg pgwire.Msg, out []byte) {
	o, ok := sess.ops.front()
	if !ok {
		return
	}
	switch typ {
	case 'T':
		if o.kind == opQuery {
			sess.rec.RowDescription(o.stmtNo(), msg.Body)
		}
	case 'D':
		sess.rec.DataRow(o.stmtNo(), out[pgwire.HeaderLen:], nil)
	case 'd':
		sess.rec.CopyData(o.stmtNo(), out[pgwire.HeaderLen:])
	case 'N':
		var n pgproto3.NoticeResponse
		if n.Decode(msg.Body) == nil {
			sess.rec.Notice(n.Message)
		}
	}
}

func (sess *session) deferResult(n uint64, tag []byte, code, msg string, d time.Duration, status string) {
	if sess.rec != nil {
		if sess.be.masked && code != "" {
			msg = ""
		}
		sess.rec.Result(n, string(tag), code, msg)
	}
	sess.resultRecord(&sess.be.body, n, tag, code, msg, d, status)
	if sess.be.masked {
		sess.be.body.Strs("masked", sess.be.rep.masked).Strs("masked_unknown_provenance", sess.be.rep.unknown)
	}
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
	out := msg.Raw
	if o.mask() != nil || sess.be.masked {
		// An error can quote a value ("invalid input syntax for type
		// integer: \"123-45-6789\""): for statements under masking rules
		// only the SQLSTATE is passed on.
		out = maskedError(e)
	}
	defer sess.endResult()
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
	return out
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
	sess.endResult()
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
