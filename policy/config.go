package policy

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
)

// Defaults for Config.
const (
	DefaultQuery            = "data.interlock.decision"
	DefaultCacheSize        = 10000
	DefaultSessionCacheSize = 128
	DefaultMaxCachedText    = 8 << 10
	DefaultWatchDebounce    = 200 * time.Millisecond
)

// DataKey is the top-level document under which Config.Data is visible to
// the policy: data.interlock_config.
const DataKey = "interlock_config"

// Config configures an Engine.
type Config struct {
	// Paths are Rego files or directories (searched recursively for *.rego;
	// *_test.rego files are skipped). Empty means the default policy
	// embedded in the binary (policy/rego).
	Paths []string
	// Data is policy data from the daemon configuration (group names,
	// allowlists, table tags). The policy sees it as data.interlock_config.
	// It must be representable as JSON.
	Data map[string]any
	// Query is the reference evaluated per statement. Default
	// data.interlock.decision.
	Query string
	// CacheSize bounds the shared analysis cache and the shared decision
	// cache (entries each). Default 10000.
	CacheSize int
	// SessionCacheSize bounds each session's memo of recent statements.
	// Default 128.
	SessionCacheSize int
	// MaxCachedText is the longest query text (bytes) that is cached;
	// longer texts are analysed and evaluated every time. With the sizes
	// above it bounds the caches' memory. Default 8 KiB.
	MaxCachedText int
	// WatchDebounce is how long Watch waits after the last file event
	// before reloading. Default 200ms.
	WatchDebounce time.Duration
	// Logger receives reload and evaluation errors. Default slog.Default().
	Logger *slog.Logger
	// Observer receives cache, evaluation and reload events, e.g. for
	// metrics. Default: none.
	Observer Observer
}

// Validate checks c and fills in defaults.
func (c *Config) Validate() error {
	if c.Query == "" {
		c.Query = DefaultQuery
	}
	if _, err := ast.ParseRef(c.Query); err != nil {
		return fmt.Errorf("policy query %q is not a reference: %w", c.Query, err)
	}
	c.CacheSize = cmp.Or(c.CacheSize, DefaultCacheSize)
	if c.CacheSize < 0 {
		return errors.New("policy cache size is negative")
	}
	c.SessionCacheSize = cmp.Or(c.SessionCacheSize, DefaultSessionCacheSize)
	if c.SessionCacheSize < 0 {
		return errors.New("policy session cache size is negative")
	}
	c.MaxCachedText = cmp.Or(c.MaxCachedText, DefaultMaxCachedText)
	if c.MaxCachedText < 0 {
		return errors.New("policy max cached text is negative")
	}
	if c.WatchDebounce <= 0 {
		c.WatchDebounce = DefaultWatchDebounce
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Observer == nil {
		c.Observer = nopObserver{}
	}
	return nil
}
