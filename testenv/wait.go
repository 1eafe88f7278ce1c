package testenv

import (
	"context"
	"testing"
	"time"
)

// WaitFor polls cond until it holds, failing the test once timeout has
// passed; what names the awaited condition in the failure.
func WaitFor(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Context is a context with a timeout, cancelled when the test's cleanup
// runs: unlike tb.Context, it still works in cleanups registered after it.
func Context(tb testing.TB, timeout time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	tb.Cleanup(cancel)
	return ctx
}
