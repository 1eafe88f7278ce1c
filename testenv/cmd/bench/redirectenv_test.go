package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/interlock-dev/interlock/testenv"
)

func TestPinDirPID(t *testing.T) {
	tests := []struct {
		name string
		pid  int
		ok   bool
	}{
		{"interlock-bench-4242-123456", 4242, true},
		{"interlock-bench-1-x", 1, true},
		{"interlock-bench-4242", 0, false},
		{"interlock-bench-x-1", 0, false},
		{"interlock-bench-0-1", 0, false},
		{"interlock-test-4242-1", 0, false},
	}
	for _, tt := range tests {
		pid, ok := pinDirPID(tt.name)
		if pid != tt.pid || ok != tt.ok {
			t.Errorf("pinDirPID(%q) = %d, %v; want %d, %v", tt.name, pid, ok, tt.pid, tt.ok)
		}
	}
}

// TestRemoveStalePins: the pin directory of a bench that is gone is
// removed, that of a running one (this test) is left alone.
func TestRemoveStalePins(t *testing.T) {
	testenv.RequireRoot(t)
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(bpffs, fmt.Sprintf("%s%d-test", pinDirPrefix, gone.Process.Pid))
	live := filepath.Join(bpffs, fmt.Sprintf("%s%d-test", pinDirPrefix, os.Getpid()))
	for _, d := range []string{stale, live} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatalf("make pin dir (needs a bpf filesystem at %s): %v", bpffs, err)
		}
		t.Cleanup(func() { os.RemoveAll(d) })
	}
	removeStalePins(context.Background(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale pin dir %s: %v, want it removed", stale, err)
	}
	if _, err := os.Stat(live); err != nil {
		t.Errorf("pin dir of a running bench: %v, want it kept", err)
	}
}
