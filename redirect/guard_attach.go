package redirect

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
)

// guardHooks are the guard's cgroup programs, pinned as link_<name>.
var guardHooks = []struct {
	hook
	prog func(*guardPrograms) *ebpf.Program
}{
	{hook{name: "guard_egress", attach: ebpf.AttachCGroupInetEgress}, func(p *guardPrograms) *ebpf.Program { return p.IlGuardEgress }},
	{hook{name: "guard_unix", attach: ebpf.AttachCgroupUnixConnect}, func(p *guardPrograms) *ebpf.Program { return p.IlGuardUnix }},
	{hook{name: "guard_sockopt", attach: ebpf.AttachCGroupSetsockopt}, func(p *guardPrograms) *ebpf.Program { return p.IlGuardSockopt }},
}

// tcxPinPrefix names the pinned tcx links: link_tcx_<ifindex>.
const tcxPinPrefix = "link_tcx_"

// attach attaches (or updates) the cgroup hooks and the tc programs. In
// enforce mode the first failure undoes what this call created and fails.
func (g *Guard) attach(ctx context.Context) error {
	g.r.mu.RLock()
	cg, pinDir := g.r.cg, g.r.pinDir
	g.r.mu.RUnlock()
	var created []link.Link
	undo := func(err error) error {
		errs := []error{err}
		for _, l := range created {
			errs = append(errs, l.Unpin())
		}
		errs = append(errs, closeLinks(g.links))
		g.links = nil
		for idx, l := range g.tc {
			errs = append(errs, l.Close())
			delete(g.tc, idx)
		}
		return errors.Join(errs...)
	}
	for _, h := range guardHooks {
		if err := ctx.Err(); err != nil {
			return undo(err)
		}
		l, isNew, err := attachOne(pinDir, cg, h.hook, h.prog(&g.objs.guardPrograms), g.log)
		if err != nil {
			if err := g.degrade("attach "+h.name, err); err != nil {
				return undo(err)
			}
			continue
		}
		g.links = append(g.links, l)
		if isNew {
			created = append(created, l)
		}
	}
	links, err := g.interfaces()
	if err != nil {
		if err := g.degrade("list interfaces", err); err != nil {
			return undo(err)
		}
	}
	for _, ifc := range links {
		l, isNew, err := g.attachTC(ifc)
		if err != nil {
			if err := g.degrade("attach tc on "+ifc.name, err); err != nil {
				return undo(err)
			}
			continue
		}
		g.tc[ifc.index] = l
		if isNew {
			created = append(created, l)
		}
	}
	if err := g.retireStaleTC(); err != nil {
		g.log.Warn("remove tc links of gone interfaces", logKeyError, err)
	}
	return nil
}

// setUnix writes the protected unix socket names and the allowed cgroups,
// replacing what was there.
func (g *Guard) setUnix(paths, allow []string) error {
	names := make(map[guardIlUnixKey]struct{}, len(paths))
	for _, p := range paths {
		n, err := unixName(p)
		if err != nil {
			return err
		}
		var k guardIlUnixKey
		for i, c := range n {
			k.Name[i] = int8(c)
		}
		names[k] = struct{}{}
	}
	ids := make(map[uint64]struct{}, len(allow))
	for _, p := range allow {
		id, err := cgroupID(p)
		if err != nil {
			return fmt.Errorf("unix allow cgroup: %w", err)
		}
		ids[id] = struct{}{}
	}
	if err := replaceSet(g.objs.IlUnixNames, names); err != nil {
		return fmt.Errorf("set unix socket names: %w", err)
	}
	if err := replaceSet(g.objs.IlUnixAllow, ids); err != nil {
		return fmt.Errorf("set unix allow cgroups: %w", err)
	}
	return nil
}

// SetUnixSockets replaces the protected unix sockets and allowed cgroups live.
func (g *Guard) SetUnixSockets(ctx context.Context, paths, allowCgroups []string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return ErrClosed
	}
	if g.objs == nil {
		return errors.New("guard is off")
	}
	if err := g.setUnix(paths, allowCgroups); err != nil {
		return err
	}
	g.cfg.UnixSockets, g.cfg.UnixAllowCgroups = paths, allowCgroups
	return nil
}

// replaceSet makes the hash map m hold exactly the keys of want (value 1):
// new keys are written before stale ones are deleted.
func replaceSet[K comparable](m *ebpf.Map, want map[K]struct{}) error {
	one := uint32(1)
	for k := range want {
		if err := m.Update(&k, &one, ebpf.UpdateAny); err != nil {
			return err
		}
	}
	var (
		k     K
		v     uint32
		stale []K
	)
	it := m.Iterate()
	for it.Next(&k, &v) {
		if _, ok := want[k]; !ok {
			stale = append(stale, k)
		}
	}
	if err := it.Err(); err != nil {
		return err
	}
	for i := range stale {
		if err := m.Delete(&stale[i]); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
			return err
		}
	}
	return nil
}

// removeGuardLinks detaches and unpins every guard link in pinDir.
func removeGuardLinks(ctx context.Context, pinDir string) error {
	var names []string
	for _, h := range guardHooks {
		names = append(names, linkPinPath(pinDir, h.name))
	}
	tcx, err := filepath.Glob(filepath.Join(pinDir, tcxPinPrefix+"*"))
	if err != nil {
		return err
	}
	names = append(names, tcx...)
	var errs []error
	for _, path := range names {
		if err := ctx.Err(); err != nil {
			return err
		}
		l, err := link.LoadPinnedLink(path, nil)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			// A tcx link whose interface is gone cannot be opened as a
			// link any more: remove the pin.
			if rerr := os.Remove(path); rerr != nil {
				errs = append(errs, fmt.Errorf("open link %s: %w", filepath.Base(path), err))
			}
			continue
		}
		if err := retireLink(l); err != nil {
			errs = append(errs, fmt.Errorf("remove link %s: %w", filepath.Base(path), err))
		}
	}
	return errors.Join(errs...)
}
