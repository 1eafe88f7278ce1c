package main

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/interlock-dev/interlock/daemon/alerts"
	"github.com/interlock-dev/interlock/daemon/control"
	"github.com/interlock-dev/interlock/testenv"
)

// alertsDaemon is a control socket serving alerts from a real pipeline.
func alertsDaemon(t *testing.T) (*alerts.Pipeline, string) {
	t.Helper()
	d := newDaemon(t, false)
	pipe, err := alerts.New(testCtx(t), alerts.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pipe.Close() })
	socket := filepath.Join(testenv.SharedTempDir(t, "interlock-cli-*"), "alerts.sock")
	srv, err := control.New(testCtx(t), control.Config{SocketPath: socket, Store: d.store})
	if err != nil {
		t.Fatal(err)
	}
	srv.Handle("GET "+alerts.Path, pipe.Handler(alerts.RootOrGroup(nil, func(r *http.Request) (alerts.Creds, bool) {
		p, ok := control.PeerOf(r)
		return alerts.Creds{UID: p.UID, GID: p.GID}, ok
	})))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return pipe, socket
}

func TestAlertsCommand(t *testing.T) {
	pipe, socket := alertsDaemon(t)
	if r := cli(t, "alerts", "--socket", socket); r.code != 0 || !strings.Contains(r.stdout, "No bypass alerts.") {
		t.Fatalf("no alerts yet: %+v", r)
	}
	uid := uint32(1000)
	pipe.Submit(alerts.Alert{Time: time.Now(), Kind: alerts.KindRawSocket, Action: alerts.ActionBlocked, Count: 1,
		PID: 4242, UID: &uid, Comm: "scapy", Destination: "10.0.0.5:5432"})
	var r result
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if r = cli(t, "alerts", "--socket", socket); strings.Contains(r.stdout, "raw_socket") {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, want := range []string{"raw_socket", "blocked", "scapy[4242]", "1000", "10.0.0.5:5432"} {
		if !strings.Contains(r.stdout, want) {
			t.Fatalf("alerts output lacks %q:\n%s", want, r.stdout)
		}
	}
	r = cli(t, "alerts", "--json", "--socket", socket)
	var a alerts.Alert
	if err := json.Unmarshal([]byte(strings.SplitN(r.stdout, "\n", 2)[0]), &a); err != nil || a.Kind != alerts.KindRawSocket {
		t.Fatalf("--json: %v %+v", err, r)
	}
	// Other users may not read alerts.
	if r := runAs(t, 65534, "alerts", "--socket", socket); r.code == 0 || !strings.Contains(r.stderr, "root") {
		t.Fatalf("uid 65534 read alerts: %+v", r)
	}
}
