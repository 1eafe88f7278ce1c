package redirect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
)

// Guard owns the bypass guard: the cgroup_skb, connect_unix and setsockopt
// programs at the redirect's cgroup and the tc programs on host interfaces.
// Its links are pinned next to the redirect's, so enforcement survives the
// daemon; only Uninstall (or a NewGuard with GuardOff) removes it.
type Guard struct {
	r    *Redirector
	log  *slog.Logger
	cfg  GuardConfig
	objs *guardObjects

	mu       sync.Mutex
	links    []link.Link       // cgroup hooks
	tc       map[int]link.Link // tcx links by ifindex
	degraded []string          // parts monitor mode could not attach
	closed   bool

	stopWatch func()
}

// GuardStatus describes a running guard.
type GuardStatus struct {
	Mode GuardMode
	// Interfaces carry the tc program.
	Interfaces []string
	// Degraded lists what could not be attached (monitor mode only; in
	// enforce mode NewGuard fails instead).
	Degraded []string
}

// NewGuard installs the guard for r's cgroup and endpoints. In enforce
// mode, any part that cannot be attached fails the call and what this call
// attached is removed again (fail closed: the daemon must not start). In
// monitor mode such parts are logged and listed in Status. GuardOff removes
// a guard left by an earlier run. After attaching, connections to
// protected endpoints that already existed are destroyed (enforce) or
// reported (monitor): see Sweep.
func NewGuard(ctx context.Context, r *Redirector, cfg GuardConfig) (*Guard, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = r.log
	}
	g := &Guard{r: r, log: cfg.Logger, cfg: cfg, tc: make(map[int]link.Link)}
	if cfg.Mode == GuardOff {
		if err := g.setConf(); err != nil {
			return nil, err
		}
		if err := removeGuardLinks(ctx, r.pinDir); err != nil {
			return nil, err
		}
		g.log.Info("guard off", logKeyGuardMode, string(cfg.Mode))
		return g, nil
	}
	objs, err := loadGuardWithMaps(r, g.log)
	if err != nil {
		return nil, g.failed(err)
	}
	g.objs = objs
	// The programs read mode and names at run time: set them first.
	if err := g.setConf(); err != nil {
		return nil, errors.Join(g.failed(err), objs.Close())
	}
	if err := g.setUnix(cfg.UnixSockets, cfg.UnixAllowCgroups); err != nil {
		return nil, errors.Join(g.failed(err), objs.Close())
	}
	// Subscribe before listing interfaces, so none created in between is
	// missed; updates are handled once the initial attach is done.
	var startWatch func()
	if cfg.hasPatterns() {
		var err error
		if startWatch, err = g.watchInterfaces(); err != nil {
			if err := g.degrade("watch new interfaces", err); err != nil {
				return nil, errors.Join(err, objs.Close())
			}
		}
	}
	if err := g.attach(ctx); err != nil {
		if g.stopWatch != nil {
			g.stopWatch()
		}
		return nil, errors.Join(err, objs.Close())
	}
	if startWatch != nil {
		startWatch()
	}
	g.log.Info("guard installed", logKeyGuardMode, string(cfg.Mode), "interfaces", len(g.tc))
	if _, err := g.Sweep(ctx); err != nil {
		g.log.Warn("startup sweep of existing connections", logKeyError, err)
	}
	return g, nil
}

// failed wraps a setup error, naming the mode.
func (g *Guard) failed(err error) error {
	return fmt.Errorf("guard (%s): %w", g.cfg.Mode, err)
}

// degrade handles a part that cannot be attached: an error in enforce mode,
// a warning in monitor mode.
func (g *Guard) degrade(what string, err error) error {
	if g.cfg.Mode == GuardEnforce {
		return g.failed(fmt.Errorf("%s: %w", what, err))
	}
	g.log.Warn("guard part not attached (monitor mode continues without it)", "part", what, logKeyError, err)
	g.mu.Lock()
	g.degraded = append(g.degraded, fmt.Sprintf("%s: %v", what, err))
	g.mu.Unlock()
	return nil
}

// setConf writes the mode and rate limits into the shared config.
func (g *Guard) setConf() error {
	mode := uint32(modeOff)
	switch g.cfg.Mode {
	case GuardMonitor:
		mode = modeMonitor
	case GuardEnforce:
		mode = modeEnforce
	}
	g.r.mu.Lock()
	defer g.r.mu.Unlock()
	if g.r.closed {
		return ErrClosed
	}
	return g.r.updateConf(func(c *redirectIlConfig) {
		c.Mode = mode
		c.RlWindowNs = uint64(g.cfg.DedupWindow)
		c.RlBudget = g.cfg.EventBudget
	})
}

// il_config.mode values (bpf/guard.h).
const (
	modeOff     = 0
	modeMonitor = 1
	modeEnforce = 2
)

// SetMode switches between enforce and monitor (or off, which keeps the
// programs attached but lets everything through) at once, without
// reattaching.
func (g *Guard) SetMode(ctx context.Context, mode GuardMode) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	switch mode {
	case GuardEnforce, GuardMonitor, GuardOff:
	default:
		return fmt.Errorf("guard mode %q: want enforce, monitor or off", mode)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return ErrClosed
	}
	g.cfg.Mode = mode
	if err := g.setConf(); err != nil {
		return err
	}
	g.log.Info("guard mode changed", logKeyGuardMode, string(mode))
	return nil
}

// Status reports the mode, the tc interfaces and what is degraded.
func (g *Guard) Status() GuardStatus {
	g.mu.Lock()
	defer g.mu.Unlock()
	st := GuardStatus{Mode: g.cfg.Mode, Degraded: append([]string(nil), g.degraded...)}
	for idx := range g.tc {
		st.Interfaces = append(st.Interfaces, ifaceName(idx))
	}
	return st
}

// Close releases this process's handles and stops watching interfaces. It
// detaches nothing. Safe to call twice.
func (g *Guard) Close() error {
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return nil
	}
	g.closed = true
	stop := g.stopWatch
	g.mu.Unlock()
	if stop != nil {
		stop()
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	errs := []error{closeLinks(g.links)}
	for _, l := range g.tc {
		errs = append(errs, l.Close())
	}
	if g.objs != nil {
		errs = append(errs, g.objs.Close())
	}
	return errors.Join(errs...)
}

// loadGuardWithMaps loads the guard programs sharing the redirect's maps
// (endpoints, config, events, rate limit) and with the same daemon mark.
func loadGuardWithMaps(r *Redirector, log *slog.Logger) (*guardObjects, error) {
	spec, err := loadGuard()
	if err != nil {
		return nil, err
	}
	if err := spec.Variables[guardVarDaemonMark].Set(r.mark); err != nil {
		return nil, fmt.Errorf("set daemon mark: %w", err)
	}
	if err := dropIncompatiblePins(spec, r.pinDir, log); err != nil {
		return nil, err
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.closed {
		return nil, ErrClosed
	}
	shared := map[string]*ebpf.Map{}
	for name, m := range r.objs.maps() {
		if _, ok := spec.Maps[name]; ok {
			shared[name] = m
		}
	}
	objs := new(guardObjects)
	opts := &ebpf.CollectionOptions{Maps: ebpf.MapOptions{PinPath: r.pinDir}, MapReplacements: shared}
	if err := spec.LoadAndAssign(objs, opts); err != nil {
		var verr *ebpf.VerifierError
		if errors.As(err, &verr) {
			return nil, fmt.Errorf("load guard programs: %+v", verr)
		}
		return nil, fmt.Errorf("load guard objects: %w", err)
	}
	return objs, nil
}

// maps lists the redirect object's maps by name.
func (o *redirectObjects) maps() map[string]*ebpf.Map {
	m := &o.redirectMaps
	return map[string]*ebpf.Map{
		redirectMapIlAlertRl:   m.IlAlertRl,
		redirectMapIlBudget:    m.IlBudget,
		redirectMapIlConf:      m.IlConf,
		redirectMapIlCounters:  m.IlCounters,
		redirectMapIlEndpoints: m.IlEndpoints,
		redirectMapIlEvents:    m.IlEvents,
		redirectMapIlOrigins:   m.IlOrigins,
		redirectMapIlProtAddrs: m.IlProtAddrs,
		redirectMapIlSkOrigin:  m.IlSkOrigin,
	}
}
