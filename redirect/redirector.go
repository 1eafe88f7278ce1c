package redirect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
)

// ErrClosed is returned by methods of a closed Redirector.
var ErrClosed = errors.New("redirect: closed")

// Redirector owns the loaded redirect programs and their pinned maps and links.
type Redirector struct {
	log         *slog.Logger
	pinDir      string
	cg          cgroupTarget
	mark        uint32
	netnsCookie uint64 // interlockd's network namespace

	// events holds events made in userspace (startup sweep, rate-limit
	// flushes) until the EventReader takes them.
	events *userEvents

	mu      sync.RWMutex // guards objs and links against Close; SetEndpoints holds it exclusively
	objs    *redirectObjects
	links   []link.Link
	closed  bool
	reading bool // an EventReader is open
}

// New loads the programs, reuses the maps and links pinned in cfg.PinDir (a
// restarted daemon keeps the endpoint set and the origins of live
// connections), swaps the new programs into pinned links atomically, and
// attaches and pins whatever is missing. Enforcement then stays in place when
// the daemon exits; only Uninstall removes it.
func New(ctx context.Context, cfg Config) (*Redirector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cg, err := resolveCgroup(cfg.CgroupPath)
	if err != nil {
		return nil, err
	}
	if err := ensurePinDir(cfg.PinDir); err != nil {
		return nil, err
	}
	log := cfg.Logger.With(logKeyPinDir, cfg.PinDir, logKeyCgroup, cg.path)
	objs, err := loadObjects(cfg.PinDir, cfg.Mark, log)
	if err != nil {
		return nil, err
	}
	r := &Redirector{log: log, pinDir: cfg.PinDir, cg: cg, mark: cfg.Mark, objs: objs, events: newUserEvents()}
	// Before attaching: the first connect already knows the daemon's netns.
	if err := r.setHostConf(); err != nil {
		return nil, errors.Join(err, objs.Close())
	}
	r.links, err = attachAll(cfg.PinDir, cg, &objs.redirectPrograms, log)
	if err != nil {
		return nil, errors.Join(err, objs.Close())
	}
	log.Info("redirect installed")
	return r, nil
}

// SetEndpoints replaces the protected endpoints with eps, live. New and
// changed entries are written before stale ones are deleted, so an endpoint
// present before and after never stops being redirected.
func (r *Redirector) SetEndpoints(ctx context.Context, eps []Endpoint) error {
	want := make(map[redirectIlEpKey]redirectIlTarget, len(eps))
	for _, ep := range eps {
		n, err := ep.normalize()
		if err != nil {
			return fmt.Errorf("endpoint %s: %w", ep, err)
		}
		k := n.key()
		if _, dup := want[k]; dup {
			return fmt.Errorf("endpoint %s: duplicate prefix and port", ep)
		}
		want[k] = n.target()
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return ErrClosed
	}
	// Addresses first: the guard then never misses a packet whose port a
	// header chain hides, for an endpoint that is being added.
	addrs := protectedAddrs(want)
	if err := r.addProtectedAddrs(ctx, addrs); err != nil {
		return err
	}
	m := r.objs.IlEndpoints
	for k, v := range want {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := m.Update(&k, &v, ebpf.UpdateAny); err != nil {
			return fmt.Errorf("set endpoint %s: %w", endpointFromEntry(k, v), err)
		}
	}
	have, err := r.entries()
	if err != nil {
		return err
	}
	for k := range have {
		if _, ok := want[k]; ok {
			continue
		}
		if err := m.Delete(&k); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
			return fmt.Errorf("remove endpoint %s: %w", endpointFromEntry(k, have[k]), err)
		}
	}
	if err := r.removeStaleAddrs(addrs); err != nil {
		return err
	}
	r.log.Info("endpoints set", "count", len(want))
	return nil
}

// Endpoints returns the protected endpoints currently in the kernel, sorted.
func (r *Redirector) Endpoints(ctx context.Context) ([]Endpoint, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.closed {
		return nil, ErrClosed
	}
	have, err := r.entries()
	if err != nil {
		return nil, err
	}
	out := make([]Endpoint, 0, len(have))
	for k, v := range have {
		out = append(out, endpointFromEntry(k, v))
	}
	slices.SortFunc(out, func(a, b Endpoint) int {
		if c := a.Prefix.Addr().Compare(b.Prefix.Addr()); c != 0 {
			return c
		}
		if c := a.Prefix.Bits() - b.Prefix.Bits(); c != 0 {
			return c
		}
		return int(a.Port) - int(b.Port)
	})
	return out, nil
}

// entries reads the endpoint trie. The caller holds r.mu.
func (r *Redirector) entries() (map[redirectIlEpKey]redirectIlTarget, error) {
	have := make(map[redirectIlEpKey]redirectIlTarget)
	var (
		k redirectIlEpKey
		v redirectIlTarget
	)
	it := r.objs.IlEndpoints.Iterate()
	for it.Next(&k, &v) {
		have[k] = v
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("read endpoints: %w", err)
	}
	return have, nil
}

// Close releases this process's handles. It detaches nothing: the pinned
// links and maps keep enforcing (fail closed while no daemon listens). Safe
// to call twice.
func (r *Redirector) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	return errors.Join(closeLinks(r.links), r.objs.Close())
}
