package policy

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/interlock-dev/interlock/policy/analysis"
)

// counter is an Observer that counts events.
type counter struct {
	hits, misses       [3]atomic.Int64 // by cacheIndex
	evals, evalErrs    atomic.Int64
	reloads, reloadErr atomic.Int64
}

func cacheIndex(c Cache) int {
	switch c {
	case CacheSession:
		return 0
	case CacheDecision:
		return 1
	default:
		return 2
	}
}

func (c *counter) CacheLookup(cache Cache, hit bool) {
	if hit {
		c.hits[cacheIndex(cache)].Add(1)
	} else {
		c.misses[cacheIndex(cache)].Add(1)
	}
}

func (c *counter) Evaluated(_ time.Duration, err error) {
	c.evals.Add(1)
	if err != nil {
		c.evalErrs.Add(1)
	}
}

func (c *counter) Reloaded(err error) {
	c.reloads.Add(1)
	if err != nil {
		c.reloadErr.Add(1)
	}
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// mustEngine creates an engine and closes it at the end of the test.
func mustEngine(tb testing.TB, cfg Config) *Engine {
	tb.Helper()
	if cfg.Logger == nil {
		cfg.Logger = quietLogger()
	}
	e, err := New(context.Background(), cfg)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	tb.Cleanup(func() { _ = e.Close() })
	return e
}

// writePolicy writes a Rego file into dir.
func writePolicy(tb testing.TB, dir, name, text string) string {
	tb.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		tb.Fatalf("write policy: %v", err)
	}
	return p
}

// policyDir returns a temporary directory holding one policy file.
func policyDir(tb testing.TB, text string) string {
	tb.Helper()
	dir := tb.TempDir()
	writePolicy(tb, dir, "policy.rego", text)
	return dir
}

func ctxFor(groups []string, env string) Context {
	return Context{
		User:     User{Sub: "u1", Email: "alice@example.com", Groups: groups},
		Session:  SessionInfo{Database: "app", UpstreamUser: "app", ApplicationName: "psql", ClientAddr: "127.0.0.1"},
		Endpoint: Endpoint{Name: "db", Labels: map[string]string{"environment": env}},
	}
}

func sel() *analysis.Statement {
	return &analysis.Statement{Kinds: []string{analysis.KindSelect}, Command: "SELECT", TablesRead: []string{"public.accounts"}}
}

const allowAll = `package interlock

decision := {"allow": true, "reason": "all allowed"}
`

const denyAll = `package interlock

decision := {"allow": false, "reason": "all denied"}
`
