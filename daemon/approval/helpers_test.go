package approval

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/interlock-dev/interlock/daemon/audit"
	"github.com/interlock-dev/interlock/testenv"
)

func testCtx(t *testing.T) context.Context { return testenv.Context(t, 90*time.Second) }

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// trail is a real audit chain in a temporary directory that can be made
// to fail, as a full disk would.
type trail struct {
	log  *audit.Log
	path string
	fail atomic.Bool
}

func newTrail(t *testing.T) *trail {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit", "audit.log")
	l, err := audit.Open(context.Background(), audit.Config{Path: path, Logger: quietLogger()})
	if err != nil {
		t.Fatalf("open audit log: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return &trail{log: l, path: path}
}

func (a *trail) Write(b audit.Body) error {
	if a.fail.Load() {
		return errors.New("write audit.log: no space left on device (test)")
	}
	return a.log.Write(b)
}

// records returns the records of the given type, in chain order.
func (a *trail) records(t *testing.T, typ string) []map[string]any {
	t.Helper()
	f, err := os.Open(a.path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("audit line %q: %v", sc.Text(), err)
		}
		if m["type"] == typ {
			out = append(out, m)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// forRequest keeps the records about one request id.
func forRequest(recs []map[string]any, id string) []map[string]any {
	var out []map[string]any
	for _, r := range recs {
		if r["request_id"] == id {
			out = append(out, r)
		}
	}
	return out
}

// People of the tests, as the default testenv issuer defines them.
var (
	alice = Actor{Subject: "alice", Email: "alice@example.com", Groups: []string{"dba", "engineering"}, Via: ViaAPI}
	bob   = Actor{Subject: "bob", Email: "bob@example.com", Groups: []string{"engineering"}, Via: ViaAPI}
	carol = Actor{Subject: "carol", Email: "carol@example.com", Groups: []string{"analysts"}, Via: ViaAPI}
	dave  = Actor{Subject: "dave", Email: "dave@example.com", Groups: []string{"dba"}, Via: ViaAPI}
)

func requester(a Actor) Requester {
	return Requester{Subject: a.Subject, Email: a.Email, Groups: a.Groups,
		Origin: &Origin{Auth: "session", PID: 4242, UID: 1000, Comm: "psql", Exe: "/usr/bin/psql", Client: "127.0.0.1:50000"}}
}

// deleteReq is bob's held DELETE with $1 = id.
func deleteReq(id string) NewRequest {
	return NewRequest{
		Requester: requester(bob), Endpoint: "prod", Database: "app",
		Statement:      "DELETE FROM orders WHERE id = $1",
		Params:         &Params{Values: [][]byte{[]byte(id)}},
		ApproverGroups: []string{"dba"}, Reason: "deletes from orders need a DBA's approval",
		SessionID: "s-1",
	}
}

// storeKinds runs f once per store: local (memory) and PostgreSQL.
func storeKinds(t *testing.T, f func(t *testing.T, newStore func(t *testing.T) Store)) {
	t.Run("local", func(t *testing.T) {
		f(t, func(t *testing.T) Store {
			s, err := NewLocalStore(testCtx(t), LocalConfig{Logger: quietLogger()})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		})
	})
	t.Run("postgres", func(t *testing.T) {
		pg := sharedPostgres(t)
		f(t, func(t *testing.T) Store { return newPGStore(t, pg.SuperuserDSN(), uniqueSchema()) })
	})
}

// One PostgreSQL cluster serves the package's tests, each in a schema of
// its own; TestMain stops it.
var shared struct {
	once    sync.Once
	pg      *testenv.Postgres
	err     error
	schemas atomic.Int64
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.pg != nil {
		if err := shared.pg.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "close postgres:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// sharedPostgres starts the cluster on first use. Without PostgreSQL the
// test fails naming the install command (skips only under -short).
func sharedPostgres(t *testing.T) *testenv.Postgres {
	t.Helper()
	shared.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		shared.pg, shared.err = testenv.StartPostgres(ctx, testenv.PostgresOptions{Logger: quietLogger()})
	})
	if errors.Is(shared.err, testenv.ErrPostgresNotInstalled) && testing.Short() {
		t.Skipf("skipping in -short mode: %v", shared.err)
	}
	if shared.err != nil {
		t.Fatalf("testenv.StartPostgres: %v", shared.err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("postgres log %s (tail):\n%s", shared.pg.LogFile, shared.pg.LogTail(30))
		}
	})
	return shared.pg
}

func uniqueSchema() string { return fmt.Sprintf("t%d", shared.schemas.Add(1)) }

func newPGStore(t *testing.T, dsn, schema string) *PostgresStore {
	t.Helper()
	s, err := NewPostgresStore(testCtx(t), PostgresConfig{DSN: dsn, Schema: schema, Logger: quietLogger()})
	if err != nil {
		t.Fatalf("postgres store: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newService(t *testing.T, store Store, a AuditSink, mod func(*Config)) *Service {
	t.Helper()
	cfg := Config{Store: store, Audit: a, Node: "node-a", Logger: quietLogger()}
	if mod != nil {
		mod(&cfg)
	}
	s, err := New(testCtx(t), cfg)
	if err != nil {
		t.Fatalf("new service: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func mustRequest(t *testing.T, s *Service, n NewRequest) *Request {
	t.Helper()
	r, err := s.Request(testCtx(t), n)
	if err != nil {
		t.Fatalf("request: %v", err)
	}
	return r
}

// waitAsync runs Wait in the background.
func waitAsync(ctx context.Context, s *Service, id string) <-chan waitResult {
	ch := make(chan waitResult, 1)
	go func() {
		r, err := s.Wait(ctx, id)
		ch <- waitResult{r, err, time.Now()}
	}()
	return ch
}

type waitResult struct {
	r   *Request
	err error
	at  time.Time
}

func recv(t *testing.T, ch <-chan waitResult, timeout time.Duration) waitResult {
	t.Helper()
	select {
	case w := <-ch:
		return w
	case <-time.After(timeout):
		t.Fatalf("Wait did not return within %s", timeout)
	}
	return waitResult{}
}

// count is the number of subscribers of id.
func (h *hub) count(id string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs[id])
}
