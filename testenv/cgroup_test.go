package testenv

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
)

func TestCgroupStartsProcessesInside(t *testing.T) {
	cg := NewCgroup(t)
	cmd := cg.Cmd(context.Background(), "cat")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start in cgroup: %v", err)
	}
	t.Cleanup(func() { stdin.Close(); cmd.Wait() })

	pids, err := cg.Procs()
	if err != nil {
		t.Fatal(err)
	}
	if len(pids) != 1 || pids[0] != cmd.Process.Pid {
		t.Fatalf("cgroup.procs = %v, want [%d]", pids, cmd.Process.Pid)
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "0::"+cg.Rel+"\n") {
		t.Errorf("/proc/<pid>/cgroup = %q, want the line 0::%s", b, cg.Rel)
	}

	// Close kills what is left and removes the directory.
	if err := cg.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := os.Stat(cg.Path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("cgroup dir after Close: %v, want it gone", err)
	}
	if err := cg.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
