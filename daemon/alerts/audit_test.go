package alerts

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/interlock-dev/interlock/daemon/audit"
)

// recordingAudit keeps the bodies it is given.
type recordingAudit struct {
	mu     sync.Mutex
	bodies []string
	block  chan struct{} // if set, Write waits for it
}

func (r *recordingAudit) Write(b audit.Body) error {
	if r.block != nil {
		<-r.block
	}
	r.mu.Lock()
	r.bodies = append(r.bodies, "{"+string(b.Bytes())+"}")
	r.mu.Unlock()
	return nil
}

// Every alert becomes one record of the real audit chain, which verifies.
func TestAuditRecords(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.log")
	log, err := audit.Open(context.Background(), audit.Config{Path: path, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(context.Background(), Config{Audit: log, Logger: quietLogger(), Host: "node-1"})
	if err != nil {
		t.Fatal(err)
	}
	a := attempt(1000, "/user.slice/app")
	a.Cmdline = []string{"nc", "10.0.0.5", "5432"}
	a.GID = u32(1000)
	a.Netns = 4096
	a.Source = "10.0.0.9:40000"
	a.SocketType = "raw"
	a.Time = time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
	p.Submit(a)
	unixA := Alert{Kind: KindUnixSocket, Action: ActionDetected, Destination: "/run/postgresql/.s.PGSQL.5432", Protocol: "unix"}
	p.Submit(unixA)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := log.Close(); err != nil {
		t.Fatal(err)
	}

	var recs []map[string]any
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("audit line %q: %v", sc.Text(), err)
		}
		if m["type"] == audit.TypeAlert && m["reason"] == AuditReason {
			recs = append(recs, m)
		}
	}
	if len(recs) != 2 {
		t.Fatalf("got %d bypass alert records, want 2", len(recs))
	}
	want := map[string]any{
		"kind": "raw_socket", "action": "blocked", "count": 1.0, "alert_seq": 1.0,
		"alert_time": "2026-05-06T07:08:09Z", "host": "node-1", "pid": 1100.0, "comm": "nc",
		"exe": "/usr/bin/nc", "uid": 1000.0, "gid": 1000.0, "cgroup": "/user.slice/app",
		"netns": 4096.0, "source": "10.0.0.9:40000", "destination": "10.0.0.5:5432",
		"protocol": "tcp", "socket_type": "raw",
	}
	for k, v := range want {
		if recs[0][k] != v {
			t.Errorf("record field %s = %v, want %v", k, recs[0][k], v)
		}
	}
	if cmd, _ := recs[0]["cmdline"].([]any); len(cmd) != 3 {
		t.Errorf("record cmdline = %v", recs[0]["cmdline"])
	}
	for _, k := range []string{"uid", "pid", "gid", "source"} {
		if _, ok := recs[1][k]; ok {
			t.Errorf("unix alert record has %s though it was unknown", k)
		}
	}
	rep, err := audit.Verify(context.Background(), audit.VerifyOptions{Files: []string{path}})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Errorf("audit chain does not verify: %s", rep)
	}
}

// A sink that hangs does not stall Submit: the delivery queue fills and
// the rest is counted.
func TestSlowAuditDoesNotBlockSubmit(t *testing.T) {
	sink := &recordingAudit{block: make(chan struct{})}
	p := newPipeline(t, Config{Audit: sink, RateLimit: 1e9, Burst: 1e9, MaxSources: 1e6})
	start := time.Now()
	const n = deliverQueue + 500
	for i := range n {
		p.Submit(attempt(uint32(i), "/flood"))
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Submit of %d alerts took %s with a hung audit sink", n, d)
	}
	if got := p.Stats().Suppressed[ReasonQueue]; got < 500-1 {
		t.Errorf("suppressed[queue_full] = %d, want at least %d", got, 500-1)
	}
	close(sink.block)
}
