package proxy

import (
	"context"
	"errors"

	"github.com/interlock-dev/interlock/daemon/audit"
	"github.com/interlock-dev/interlock/daemon/pgwire"
)

// relay runs the two loops until either side ends, then closes both
// connections and records the end of the session.
func (sess *session) relay(ctx context.Context) {
	errc := make(chan error, 2)
	go func() { errc <- sess.frontendLoop(ctx) }()
	go func() { errc <- sess.backendLoop(ctx) }()

	var err error
	pending := 2
	select {
	case err = <-errc:
		pending--
	case <-ctx.Done():
		sess.terminate(shutdownErr)
		err = ctx.Err()
	}
	reason := "client_terminated"
	switch {
	case sess.fe.terminated && err == nil:
	case errors.Is(err, errUpstreamGone):
		reason = "upstream_lost"
		sess.srv.cfg.Metrics.UpstreamErrors.WithLabelValues("io").Inc()
		sess.log.Warn("upstream connection lost", "err", err)
		sess.terminate(pgwire.Fatal(pgwire.CodeConnectionFailure, "terminating connection: the database connection was lost"))
	case errors.Is(err, errClientGone):
		reason = "client_disconnected"
	case errors.Is(err, context.Canceled):
		reason = "shutdown"
	case errors.Is(err, errTerminated):
		// terminated, below
	case err != nil:
		reason = "error"
		sess.log.Warn("session ended", "err", err)
	}
	if sess.termErr.Load() != nil && reason != "upstream_lost" {
		reason = "terminated"
	}
	if t := sess.expiry.Load(); t != nil {
		t.Stop()
	}
	_ = sess.client.Close()
	_ = sess.up.Close()
	for ; pending > 0; pending-- {
		<-errc
	}
	if sess.rec != nil {
		sess.rec.Close(reason)
	}
	var b audit.Body
	sess.sessionEndRecord(&b, reason)
	_ = sess.srv.writeAudit(sess.log, b)
	sess.log.Info("session ended", "reason", reason, "statements", sess.fe.stmt)
}
