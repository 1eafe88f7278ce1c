package policy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/open-policy-agent/opa/v1/ast"
)

// ErrClosed is returned by Reload after Close; sessions of a closed engine
// deny every statement.
var ErrClosed = errors.New("policy engine closed")

// Log keys used by this package.
const (
	logKeyGeneration = "policy_generation"
	logKeyModules    = "policy_modules"
	logKeyPaths      = "policy_paths"
	logKeyError      = "error"
	logKeyBuiltin    = "builtin"
)

// Engine evaluates the policy. It is safe for concurrent use; create one
// per daemon and a Session per database session.
type Engine struct {
	cfg   Config
	log   *slog.Logger
	obs   Observer
	query ast.Ref

	// mu serialises reloads and guards data, closed.
	mu      sync.Mutex
	data    []byte         // canonical JSON of the policy data
	dataDoc map[string]any // the same, decoded for the store
	closed  bool

	cur atomic.Pointer[compiled]

	analyses  *lru.Cache[string, *analysisEntry]
	decisions *lru.Cache[decisionKey, *Result]
	entryID   atomic.Uint64
}

// New loads and compiles the policy. It fails if the policy does not load,
// does not compile, or defines no rule for the query.
func New(ctx context.Context, cfg Config) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	query, err := ast.ParseRef(cfg.Query)
	if err != nil {
		return nil, fmt.Errorf("parse policy query: %w", err)
	}
	data, doc, err := encodeData(cfg.Data)
	if err != nil {
		return nil, err
	}
	analyses, err := lru.New[string, *analysisEntry](cfg.CacheSize)
	if err != nil {
		return nil, fmt.Errorf("create analysis cache: %w", err)
	}
	decisions, err := lru.New[decisionKey, *Result](cfg.CacheSize)
	if err != nil {
		return nil, fmt.Errorf("create decision cache: %w", err)
	}
	e := &Engine{
		cfg:       cfg,
		log:       cfg.Logger,
		obs:       cfg.Observer,
		query:     query,
		analyses:  analyses,
		decisions: decisions,
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.reloadLocked(ctx, data, doc); err != nil {
		return nil, err
	}
	return e, nil
}

// Reload recompiles the policy from Config.Paths (the embedded default
// when empty). On error the last good policy stays in force, the error is
// logged and reported to the Observer, and returned. On success the
// decision caches are invalidated; sessions carry on with the new policy.
// Reloading unchanged files and data is a no-op that keeps the caches.
func (e *Engine) Reload(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.reloadLocked(ctx, e.data, e.dataDoc)
}

// SetData replaces the policy data (data.interlock_config) and recompiles,
// with the same failure behaviour as Reload: on error the previous data
// and policy stay in force.
func (e *Engine) SetData(ctx context.Context, data map[string]any) error {
	raw, doc, err := encodeData(data)
	if err != nil {
		e.obs.Reloaded(err)
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.reloadLocked(ctx, raw, doc)
}

func (e *Engine) reloadLocked(ctx context.Context, data []byte, doc map[string]any) error {
	if e.closed {
		return ErrClosed
	}
	c, err := e.build(ctx, data, doc)
	if err != nil {
		e.log.Error("policy rejected; the last good policy, if any, stays in force",
			logKeyPaths, e.cfg.Paths, logKeyError, err)
		e.obs.Reloaded(err)
		return err
	}
	e.data, e.dataDoc = data, doc
	if c != nil {
		prev := e.cur.Load()
		if prev != nil {
			c.gen = prev.gen + 1
		} else {
			c.gen = 1
		}
		e.cur.Store(c)
		// Decisions stamped with an older generation are ignored anyway;
		// purging frees them.
		e.decisions.Purge()
		e.log.Info("policy loaded", logKeyGeneration, c.gen,
			logKeyModules, c.modules, logKeyPaths, e.cfg.Paths)
		if c.volatile != "" {
			e.log.Warn("policy calls a nondeterministic builtin: its decisions are not cached",
				logKeyBuiltin, c.volatile)
		}
	}
	e.obs.Reloaded(nil)
	return nil
}

// build loads and compiles the policy. It returns nil, nil when the loaded
// content is identical to the policy in force.
func (e *Engine) build(ctx context.Context, data []byte, doc map[string]any) (*compiled, error) {
	src, err := load(e.cfg.Paths, data)
	if err != nil {
		return nil, err
	}
	if prev := e.cur.Load(); prev != nil && prev.digest == src.digest {
		return nil, nil
	}
	return compile(ctx, src, doc, e.cfg.Query, e.query)
}

// Close makes every session deny every statement ("policy engine closed")
// and stops reloads. It is safe to call more than once.
func (e *Engine) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil
	}
	e.closed = true
	var gen uint64
	if prev := e.cur.Load(); prev != nil {
		gen = prev.gen + 1
	}
	e.cur.Store(&compiled{gen: gen, closed: true})
	e.decisions.Purge()
	e.analyses.Purge()
	return nil
}

// Generation counts successful policy loads that changed the policy. It
// starts at 1.
func (e *Engine) Generation() uint64 {
	return e.cur.Load().gen
}
