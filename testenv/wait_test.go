package testenv

import (
	"context"
	"testing"
	"time"
)

func TestWaitForReturnsOnceCondHolds(t *testing.T) {
	n := 0
	WaitFor(t, time.Minute, "three polls", func() bool { n++; return n == 3 })
	if n != 3 {
		t.Fatalf("cond polled %d times, want 3", n)
	}
}

func TestContextHasDeadline(t *testing.T) {
	ctx := Context(t, time.Hour)
	d, ok := ctx.Deadline()
	if !ok || time.Until(d) > time.Hour || time.Until(d) < 59*time.Minute {
		t.Fatalf("deadline %v, %v; want about an hour from now", d, ok)
	}
	if ctx.Err() != nil {
		t.Fatal(ctx.Err())
	}
	short := Context(t, time.Nanosecond)
	<-short.Done()
	if short.Err() != context.DeadlineExceeded {
		t.Fatalf("err %v, want deadline exceeded", short.Err())
	}
}
