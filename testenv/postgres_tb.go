package testenv

import (
	"context"
	"errors"
	"testing"
	"time"
)

// postgresStartBudget bounds startup in NewPostgres.
const postgresStartBudget = 2 * time.Minute

// NewPostgres starts a cluster for a test and stops it with tb.Cleanup. It
// fails the test when PostgreSQL is missing, naming the install command;
// under testing.Short() it skips instead. When the test fails, the tail of
// the server log is printed.
func NewPostgres(tb testing.TB, opts PostgresOptions) *Postgres {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), postgresStartBudget)
	defer cancel()
	p, err := StartPostgres(ctx, opts)
	if errors.Is(err, ErrPostgresNotInstalled) && testing.Short() {
		tb.Skipf("skipping in -short mode: %v", err)
	}
	if err != nil {
		tb.Fatalf("testenv.NewPostgres: %v", err)
	}
	tb.Cleanup(func() {
		if err := p.Close(); err != nil {
			tb.Errorf("close postgres: %v", err)
		}
	})
	// Cleanups run last-in first-out: this one reads the log before Close removes it.
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("postgres log %s (tail):\n%s", p.LogFile, p.LogTail(50))
		}
	})
	return p
}
