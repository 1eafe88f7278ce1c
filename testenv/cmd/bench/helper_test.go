package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
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
		{[]string{helperRelay}, true, 1, "usage"},
		{[]string{helperRelay, "127.0.0.1:bad", "127.0.0.1:5432"}, true, 1, "unknown port"},
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

// TestRelayUpstreamDown: the relay asks for the password, and a server it
// cannot reach ends the client's login with a FATAL naming the cause.
func TestRelayUpstreamDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		// Port 1 on loopback refuses: nothing listens there.
		done <- relaySession(context.Background(), c, "127.0.0.1:1")
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = pgconn.Connect(ctx, "postgres://alice:secret@"+ln.Addr().String()+"/db?sslmode=disable")
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Severity != "FATAL" || pgErr.Code != "08006" || !strings.Contains(pgErr.Message, "refused") {
		t.Fatalf("connect through the relay = %v, want FATAL 08006 naming the refused connection", err)
	}
	if err := <-done; err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("relaySession = %v, want the upstream's connection error", err)
	}
}
