package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"
)

// TestRunBulk re-executes the test binary as the bulk sender (no cgroup)
// and checks the sink got every byte and the figures add up.
func TestRunBulk(t *testing.T) {
	res := runBulk(context.Background(), nil, &target{Name: "plain"}, time.Second, "bulk-test")
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	if res.TPS <= 0 || res.Txns < 1 || res.ClientCPU <= 0 {
		t.Errorf("MiB/s %v, MiB %d, sender CPU %v: want all positive", res.TPS, res.Txns, res.ClientCPU)
	}
	if res.HasProxy || res.HasPGCPU {
		t.Errorf("bulk run reports proxy or PostgreSQL CPU: %+v", res)
	}
}

func TestRunBulkCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	began := time.Now()
	res := runBulk(ctx, nil, &target{Name: "plain"}, time.Minute, "bulk-cancel")
	if res.Err == nil || ctx.Err() == nil {
		t.Fatalf("cancelled bulk run: err %v", res.Err)
	}
	if took := time.Since(began); took > 15*time.Second {
		t.Errorf("cancel took %v", took)
	}
}

func TestRunHelper(t *testing.T) {
	tests := []struct {
		args     []string
		wantOK   bool
		wantCode int
		wantErr  string
	}{
		{nil, false, 0, ""},
		{[]string{"-rounds", "3"}, false, 0, ""},
		{[]string{helperBulkSend}, true, 1, "usage"},
		{[]string{helperBulkSend, "127.0.0.1:1", "nonsense"}, true, 1, "invalid duration"},
		{[]string{helperProbe}, true, 1, probeDSNEnv + " is not set"},
	}
	for _, tt := range tests {
		var stderr bytes.Buffer
		code, ok := runHelper(tt.args, io.Discard, &stderr)
		if ok != tt.wantOK || code != tt.wantCode || !strings.Contains(stderr.String(), tt.wantErr) {
			t.Errorf("runHelper(%q) = %d, %v, stderr %q; want %d, %v, %q", tt.args, code, ok, stderr.String(), tt.wantCode, tt.wantOK, tt.wantErr)
		}
	}
}

func TestParseBytes(t *testing.T) {
	if n, err := parseBytes("1048576\n"); err != nil || n != 1<<20 {
		t.Errorf("parseBytes = %d, %v", n, err)
	}
	if _, err := parseBytes("oops"); err == nil {
		t.Error("parseBytes(oops): nil error")
	}
}
