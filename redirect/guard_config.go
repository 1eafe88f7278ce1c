package redirect

import (
	"cmp"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"
)

// GuardMode says what the guard does with a bypass attempt.
type GuardMode string

const (
	// GuardEnforce drops or refuses every bypass attempt and reports it
	// (action "blocked"). Starting fails if any part cannot be attached.
	GuardEnforce GuardMode = "enforce"
	// GuardMonitor lets attempts through and reports them (action
	// "detected"), so a rollout can be observed first. Parts that cannot
	// be attached are logged and skipped.
	GuardMonitor GuardMode = "monitor"
	// GuardOff detaches the guard.
	GuardOff GuardMode = "off"
)

// AllInterfaces in GuardConfig.Interfaces means every interface of the host
// network namespace, lo included, and those created later.
const AllInterfaces = "*"

// Defaults of GuardConfig.
const (
	DefaultDedupWindow = time.Second
	DefaultEventBudget = 1000
)

// GuardConfig configures NewGuard.
type GuardConfig struct {
	// Mode is GuardEnforce (default), GuardMonitor or GuardOff.
	Mode GuardMode
	// Interfaces get the tc egress backstop: names, which must exist, or
	// glob patterns ("veth*", AllInterfaces), which also match interfaces
	// created later (a netlink subscription attaches to them). nil means
	// []string{AllInterfaces}; an empty non-nil slice means none.
	Interfaces []string
	// UnixSockets are protected unix socket paths, e.g.
	// /var/run/postgresql/.s.PGSQL.5432, or abstract names as "@name". A
	// connect is matched by the final component of the path it names, so
	// a symlinked or relative path to the same name matches too.
	UnixSockets []string
	// UnixAllowCgroups are cgroup v2 directories whose processes may
	// connect to UnixSockets besides interlockd's marked sockets (for
	// example the database's own service, for its maintenance tools). Only
	// the cgroups themselves, not their children.
	UnixAllowCgroups []string
	// DedupWindow folds repeated attempts of one source and kind inside the
	// kernel into one event with a count. Default DefaultDedupWindow.
	DedupWindow time.Duration
	// EventBudget bounds events per second and CPU; attempts beyond it are
	// reported later in a flush. Default DefaultEventBudget.
	EventBudget uint32
	// Logger receives attach and sweep events. Default: the Redirector's.
	Logger *slog.Logger
}

// Validate checks the fields and fills defaults.
func (c *GuardConfig) Validate() error {
	switch c.Mode {
	case "":
		c.Mode = GuardEnforce
	case GuardEnforce, GuardMonitor, GuardOff:
	default:
		return fmt.Errorf("guard mode %q: want enforce, monitor or off", c.Mode)
	}
	if c.Interfaces == nil {
		c.Interfaces = []string{AllInterfaces}
	}
	for _, n := range c.Interfaces {
		if _, err := filepath.Match(n, ""); err != nil {
			return fmt.Errorf("interface pattern %q: %w", n, err)
		}
	}
	for _, p := range c.UnixSockets {
		if _, err := unixName(p); err != nil {
			return err
		}
	}
	for _, p := range c.UnixAllowCgroups {
		if !filepath.IsAbs(p) {
			return fmt.Errorf("unix allow cgroup %q: must be an absolute path", p)
		}
	}
	if c.DedupWindow < 0 {
		return fmt.Errorf("dedup window %s: must not be negative", c.DedupWindow)
	}
	c.DedupWindow = cmp.Or(c.DedupWindow, DefaultDedupWindow)
	c.EventBudget = cmp.Or(c.EventBudget, DefaultEventBudget)
	return nil
}

// isPattern reports whether an Interfaces entry is a glob pattern.
func isPattern(n string) bool { return strings.ContainsAny(n, `*?[\`) }

// hasPatterns reports whether interfaces created later may match.
func (c *GuardConfig) hasPatterns() bool {
	for _, n := range c.Interfaces {
		if isPattern(n) {
			return true
		}
	}
	return false
}

// matchInterface reports whether the interface name is configured.
func (c *GuardConfig) matchInterface(name string) bool {
	for _, n := range c.Interfaces {
		if ok, _ := filepath.Match(n, name); ok {
			return true
		}
	}
	return false
}

// unixName is the key the kernel matches for a protected socket: the final
// path component, or the abstract name with its leading NUL.
func unixName(p string) ([]byte, error) {
	const max = 108
	if strings.HasPrefix(p, "@") {
		if len(p) > max {
			return nil, fmt.Errorf("unix socket %q: name longer than %d bytes", p, max-1)
		}
		return append([]byte{0}, p[1:]...), nil
	}
	if !filepath.IsAbs(p) {
		return nil, fmt.Errorf("unix socket %q: must be an absolute path or @abstract", p)
	}
	base := filepath.Base(filepath.Clean(p))
	if base == "/" || len(p) >= max {
		return nil, fmt.Errorf("unix socket %q: not a socket path", p)
	}
	return []byte(base), nil
}
