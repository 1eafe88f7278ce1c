package approval

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/jackc/pgx/v5"
)

// listen keeps one connection LISTENing on the channel and dispatches
// each notification (payload: the request id) to the local subscribers.
// When the connection is lost it reconnects with backoff and then wakes
// every subscriber, since changes may have been missed meanwhile.
func (s *PostgresStore) listen(ctx context.Context) {
	defer close(s.done)
	var first sync.Once
	ready := func() { first.Do(func() { close(s.listening) }) }
	defer ready() // unblock NewPostgresStore if we stop before listening
	b := backoff.NewExponentialBackOff()
	b.InitialInterval, b.MaxInterval = 50*time.Millisecond, 5*time.Second
	for ctx.Err() == nil {
		conn, err := s.listenConn(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			d := b.NextBackOff()
			s.log.Warn("approval store: LISTEN connection failed; waiters fall back to polling", "err", err, "retry_in", d)
			select {
			case <-ctx.Done():
				return
			case <-time.After(d):
			}
			continue
		}
		b.Reset()
		ready()
		s.hub.notifyAll() // anything may have changed while we were not listening
		err = s.dispatch(ctx, conn)
		closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		conn.Close(closeCtx) //nolint:errcheck // the connection is broken or we are stopping
		cancel()
		if ctx.Err() == nil {
			s.log.Warn("approval store: LISTEN connection lost; reconnecting", "err", err)
		}
	}
}

func (s *PostgresStore) listenConn(ctx context.Context) (*pgx.Conn, error) {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(cctx, s.pool.Config().ConnConfig.Copy())
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	if _, err := conn.Exec(cctx, "LISTEN "+pgx.Identifier{s.cfg.Channel}.Sanitize()); err != nil {
		return nil, errors.Join(fmt.Errorf("listen: %w", err), conn.Close(cctx))
	}
	return conn, nil
}

func (s *PostgresStore) dispatch(ctx context.Context, conn *pgx.Conn) error {
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		s.hub.notify(n.Payload)
	}
}
