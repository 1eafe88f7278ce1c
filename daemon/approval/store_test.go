package approval

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/interlock-dev/interlock/daemon/audit"
	"github.com/interlock-dev/interlock/testenv"
)

// TestLocalRestart: the local store's file keeps requests across a daemon
// restart; the restarted service expires the blocking requests it held
// (their sessions are gone) and keeps non-blocking ones and approvals.
func TestLocalRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "approvals", "requests.json")
	a := newTrail(t)
	ctx := testCtx(t)
	open := func(node string) (*LocalStore, *Service) {
		st, err := NewLocalStore(ctx, LocalConfig{Path: path, Logger: quietLogger()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st, newService(t, st, a, func(c *Config) { c.Node = node })
	}

	st, s := open("node-a")
	blocking := mustRequest(t, s, deleteReq("1"))
	nb := deleteReq("2")
	nb.Mode = ModeNonBlocking
	nonBlocking := mustRequest(t, s, nb)
	approvedN := deleteReq("3")
	approved := mustRequest(t, s, approvedN)
	if _, err := s.Approve(ctx, approved.ID, alice, ""); err != nil {
		t.Fatal(err)
	}
	sb := newService(t, st, a, func(c *Config) { c.Node = "node-b" })
	otherNode := mustRequest(t, sb, deleteReq("4"))
	sb.Close()
	s.Close()
	st.Close()

	for p, want := range map[string]os.FileMode{path: 0o600, filepath.Dir(path): 0o700} {
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: %v %v, want mode %04o", p, fi.Mode(), err, want)
		}
	}

	st2, s2 := open("node-a")
	state := func(id string) State {
		r, err := st2.Get(ctx, id)
		if err != nil {
			t.Fatalf("get %s after restart: %v", id, err)
		}
		return r.State
	}
	if got := state(blocking.ID); got != StateExpired {
		t.Errorf("held blocking request after restart: %s, want expired", got)
	}
	if got := state(otherNode.ID); got != StatePending {
		t.Errorf("another node's blocking request after this node's restart: %s, want pending", got)
	}
	if got := state(nonBlocking.ID); got != StatePending {
		t.Errorf("non-blocking request after restart: %s, want pending", got)
	}
	if got := state(approved.ID); got != StateApproved {
		t.Errorf("approved request after restart: %s, want approved", got)
	}
	exp := forRequest(a.records(t, audit.TypeExpiry), blocking.ID)
	if len(exp) != 1 || exp[0]["reason"] != ReasonAbandoned {
		t.Errorf("expiry records of the abandoned request: %v", exp)
	}
	// The kept approval still works, once, for the identical statement.
	if found, err := s2.FindApproved(ctx, "bob", approvedN.Binding()); err != nil || found.ID != approved.ID {
		t.Fatalf("find the kept approval: %v %v", found, err)
	}
	if _, err := s2.Consume(ctx, approved.ID, approvedN.Binding()); err != nil {
		t.Errorf("consume the kept approval: %v", err)
	}
	if _, err := s2.Approve(ctx, nonBlocking.ID, alice, ""); err != nil {
		t.Errorf("approve the kept non-blocking request: %v", err)
	}
}

func TestLocalStoreFile(t *testing.T) {
	ctx := testCtx(t)
	t.Run("unreadable file moved aside", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "a")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, "requests.json")
		if err := os.WriteFile(path, []byte("{torn"), 0o600); err != nil {
			t.Fatal(err)
		}
		st, err := NewLocalStore(ctx, LocalConfig{Path: path, Logger: quietLogger()})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		if rs, _ := st.List(ctx, Filter{}); len(rs) != 0 {
			t.Errorf("%d requests from a torn file", len(rs))
		}
		aside, _ := filepath.Glob(path + ".bad-*")
		if len(aside) != 1 {
			t.Errorf("moved aside: %v", aside)
		}
	})
	t.Run("open directory refused", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "open")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		_, err := NewLocalStore(ctx, LocalConfig{Path: filepath.Join(dir, "r.json")})
		if err == nil || !strings.Contains(err.Error(), "want 0700") {
			t.Errorf("got %v, want a refusal of the 0755 directory", err)
		}
	})
	t.Run("closed", func(t *testing.T) {
		st := mustLocal(t)
		st.Close()
		if err := st.Close(); err != nil {
			t.Errorf("second close: %v", err)
		}
		if _, err := st.Get(ctx, "x"); !errors.Is(err, ErrClosed) {
			t.Errorf("get after close: %v", err)
		}
	})
}

// TestPostgresTwoNodes: a request held on node A, approved on node B:
// A's Wait wakes by NOTIFY within milliseconds (its poll interval is a
// minute, so polling cannot be what wakes it), also after its LISTEN
// connection was killed and came back.
func TestPostgresTwoNodes(t *testing.T) {
	pg := sharedPostgres(t)
	schema := uniqueSchema()
	a := newTrail(t)
	slow := func(c *Config) { c.PollInterval = time.Minute }
	storeA := newPGStore(t, pg.SuperuserDSN(), schema)
	nodeA := newService(t, storeA, a, slow)
	nodeB := newService(t, newPGStore(t, pg.SuperuserDSN(), schema), a, func(c *Config) { slow(c); c.Node = "node-b" })
	ctx := testCtx(t)

	measure := func(t *testing.T) time.Duration {
		t.Helper()
		n := deleteReq("42")
		r := mustRequest(t, nodeA, n)
		waiting := waitAsync(ctx, nodeA, r.ID)
		testenv.WaitFor(t, 5*time.Second, "Wait to subscribe", func() bool { return storeA.hub.count(r.ID) > 0 })
		seen, err := nodeB.List(ctx, Viewer{Actor: &alice}, false)
		if err != nil || !slices.ContainsFunc(seen, func(x *Request) bool { return x.ID == r.ID }) {
			t.Fatalf("node B does not list node A's request: %v", err)
		}
		// The latency is measured from the start of Approve (three round
		// trips and an audit write), an upper bound of the wake-up time.
		approvedAt := time.Now()
		if _, err := nodeB.Approve(ctx, r.ID, alice, "from node B"); err != nil {
			t.Fatalf("approve on node B: %v", err)
		}
		w := recv(t, waiting, 5*time.Second)
		if w.err != nil || w.r.State != StateApproved {
			t.Fatalf("node A's wait: %+v %v", w.r, w.err)
		}
		if _, err := nodeA.Consume(ctx, r.ID, n.Binding()); err != nil {
			t.Fatalf("consume on node A: %v", err)
		}
		return w.at.Sub(approvedAt)
	}

	var lat []time.Duration
	for range 5 {
		lat = append(lat, measure(t))
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	t.Logf("node B's Approve call to node A's Wait returning: min %s, median %s, max %s", lat[0], lat[len(lat)/2], lat[len(lat)-1])
	if lat[len(lat)-1] > time.Second {
		t.Errorf("node A woke %s after node B's approval, want < 1s", lat[len(lat)-1])
	}

	t.Run("after the LISTEN connection is killed", func(t *testing.T) {
		conn, err := pgx.Connect(ctx, pg.SuperuserDSN())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		const listeners = `SELECT pid FROM pg_stat_activity WHERE query LIKE 'LISTEN %' ORDER BY pid`
		var before []int32
		testenv.WaitFor(t, 10*time.Second, "two LISTEN connections", func() bool {
			before, err = pgx.CollectRows(must(conn.Query(ctx, listeners)), pgx.RowTo[int32])
			return err == nil && len(before) == 2
		})
		for _, pid := range before {
			if _, err := conn.Exec(ctx, `SELECT pg_terminate_backend($1)`, pid); err != nil {
				t.Fatal(err)
			}
		}
		testenv.WaitFor(t, 20*time.Second, "the stores to LISTEN again", func() bool {
			pids, err := pgx.CollectRows(must(conn.Query(ctx, listeners)), pgx.RowTo[int32])
			return err == nil && len(pids) == 2 && !slices.Contains(before, pids[0]) && !slices.Contains(before, pids[1])
		})
		if d := measure(t); d > time.Second {
			t.Errorf("after reconnecting, node A woke %s after the approval, want < 1s", d)
		}
	})
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestPostgresMigrateConcurrently: nodes starting together create the
// table once without colliding.
func TestPostgresMigrateConcurrently(t *testing.T) {
	pg := sharedPostgres(t)
	schema := uniqueSchema()
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			s, err := NewPostgresStore(testCtx(t), PostgresConfig{DSN: pg.SuperuserDSN(), Schema: schema, Logger: quietLogger()})
			if err == nil {
				err = s.Close()
			}
			errs <- err
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Errorf("concurrent start: %v", err)
		}
	}
	if _, err := NewPostgresStore(testCtx(t), PostgresConfig{DSN: pg.SuperuserDSN(), Schema: "Bad-Name"}); err == nil {
		t.Error("a schema name that needs quoting was accepted")
	}
}

func TestParamsJSON(t *testing.T) {
	p := &Params{
		Formats: []int16{0, 1, 0, 0},
		Values:  [][]byte{[]byte("5"), {0, 0, 0, 5}, nil, {}},
		Types:   []uint32{23, 23, 25},
	}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"formats":[0,1,0,0],"types":[23,23,25],"values":[{"text":"5"},{"base64":"AAAABQ=="},null,{"text":""}]}`; string(b) != want {
		t.Errorf("json %s\nwant %s", b, want)
	}
	var back Params
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if BindingOf("a", "b", "c", "d", &back) != BindingOf("a", "b", "c", "d", p) || back.Values[2] != nil || back.Values[3] == nil {
		t.Errorf("round trip changed the parameters: %#v", back)
	}
	if got := p.Describe(64); got != `$1='5', $2=<binary 00000005>, $3=NULL, $4=''` {
		t.Errorf("describe: %s", got)
	}
}

func TestNotice(t *testing.T) {
	s := newService(t, mustLocal(t), newTrail(t), nil)
	r := mustRequest(t, s, deleteReq("5"))
	msg, detail, hint := r.Notice()
	for _, want := range []string{r.ID} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
	for _, want := range []string{"DELETE FROM orders WHERE id = $1", "$1='5'", "need a DBA"} {
		if !strings.Contains(detail, want) {
			t.Errorf("detail %q lacks %q", detail, want)
		}
	}
	if !strings.Contains(hint, "interlock approve "+r.ID) || !strings.Contains(hint, "dba") {
		t.Errorf("hint %q", hint)
	}
	if _, _, hint := r.RequiredError(15 * time.Minute); !strings.Contains(hint, "identical statement again within 15m0s") {
		t.Errorf("non-blocking hint %q", hint)
	}
}
