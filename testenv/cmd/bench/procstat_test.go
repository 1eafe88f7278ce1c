package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/procfs"
)

// burnUntil spins until done reports true, so the test does not depend on
// how fast the machine is.
func burnUntil(t *testing.T, done func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	x := 0
	for !done() {
		for i := range 1_000_000 {
			x += i
		}
		if time.Now().After(deadline) {
			t.Fatalf("CPU time did not grow within 30s (x=%d)", x)
		}
	}
}

func TestProcTicks(t *testing.T) {
	fs, err := procfs.NewDefaultFS()
	if err != nil {
		t.Fatal(err)
	}
	before, err := procTicks(fs, os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	burnUntil(t, func() bool {
		now, err := procTicks(fs, os.Getpid())
		return err == nil && now > before
	})
	if _, err := procTicks(fs, 1<<30); err == nil {
		t.Error("procTicks of a missing pid: got nil error")
	}
}

// burnEnv makes the test binary a helper child that burns 200 ms of CPU,
// prints "ready", and waits for its stdin to close.
const burnEnv = "BENCH_TEST_BURN_CHILD"

func TestMain(m *testing.M) {
	// The test binary also acts as the bench's helper subcommands (bulk
	// sender, redirect probe), which the code under test re-executes.
	if code, ok := runHelper(os.Args[1:], os.Stdout, os.Stderr); ok {
		os.Exit(code)
	}
	if os.Getenv(burnEnv) == "1" {
		for {
			var ru syscall.Rusage
			_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
			if time.Duration(ru.Utime.Nano()+ru.Stime.Nano()) >= 200*time.Millisecond {
				break
			}
		}
		fmt.Println("ready")
		_, _ = io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestTreeTicks: a child's CPU counts in the tree's total while it runs
// and after it has exited and been reaped (the parent's cutime), as
// PostgreSQL's backends do.
func TestTreeTicks(t *testing.T) {
	fs, err := procfs.NewDefaultFS()
	if err != nil {
		t.Fatal(err)
	}
	others := func() int64 { // the tree minus ourselves
		t.Helper()
		tree, err := treeTicks(fs, os.Getpid())
		if err != nil {
			t.Fatal(err)
		}
		self, err := procTicks(fs, os.Getpid())
		if err != nil {
			t.Fatal(err)
		}
		return tree - self
	}
	before := others()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), burnEnv+"=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("helper child: read %q, %v", line, err)
	}
	// /proc times are tick-sampled and lag the precise rusage, so ask for half.
	const minTicks = 100 * userHZ / 1000
	if got := others() - before; got < minTicks {
		t.Errorf("live child: tree grew by %d ticks besides us, want at least %d", got, minTicks)
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("helper child: %v", err)
	}
	if got := others() - before; got < minTicks {
		t.Errorf("reaped child: tree grew by %d ticks besides us, want at least %d", got, minTicks)
	}
}

func TestTicksToDuration(t *testing.T) {
	if got := ticksToDuration(250); got != 2500*time.Millisecond {
		t.Errorf("ticksToDuration(250) = %v, want 2.5s", got)
	}
}
