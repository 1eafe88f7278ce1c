package proxy

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestGracefulDrain: on shutdown, open sessions may finish their work up to
// the drain deadline; new connections are refused; what is left is then
// terminated with a clear FATAL.
func TestGracefulDrain(t *testing.T) {
	e := newEnv(t, envOptions{drain: 3 * time.Second})
	ctx := ctxT(t)
	busy := e.connect(t, "bob", "writers")
	idle := e.connect(t, "carol", "readers")
	if _, err := busy.Exec(ctx, "BEGIN"); err != nil {
		t.Fatal(err)
	}
	if _, err := busy.Exec(ctx, "UPDATE customers SET notes = 'drained' WHERE id = 5"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	e.cancel()
	// The transaction in flight completes.
	if _, err := busy.Exec(ctx, "COMMIT"); err != nil {
		t.Fatalf("COMMIT during drain: %v", err)
	}
	busy.Close(ctx)
	// New connections are refused.
	if c, err := pgx.Connect(ctx, e.dsn(e.token(t, "carol", "readers"))); err == nil {
		c.Close(ctx)
		t.Fatal("new connection accepted while draining")
	}
	// The idle session is terminated at the deadline.
	select {
	case <-e.served:
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after the drain deadline")
	}
	if d := time.Since(start); d < 2*time.Second {
		t.Fatalf("Serve returned after %s, before the drain deadline", d)
	}
	_, err := idle.Exec(context.Background(), "SELECT 1")
	if err == nil {
		t.Fatal("session survived the drain deadline")
	}
	var notes string
	if err := e.direct(t).QueryRow(ctx, "SELECT notes FROM customers WHERE id = 5").Scan(&notes); err != nil || notes != "drained" {
		t.Fatalf("drained transaction not committed: %q %v", notes, err)
	}
}
