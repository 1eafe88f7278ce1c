package redirect

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
)

// hook is one program and where it attaches.
type hook struct {
	name   string // pinned as link_<name>
	attach ebpf.AttachType
	prog   func(*redirectPrograms) *ebpf.Program
}

// hooks in attach order: sockops and getpeername come before connect, so a
// redirected socket always finds the origin bookkeeping in place.
var hooks = []hook{
	{"sockops", ebpf.AttachCGroupSockOps, func(p *redirectPrograms) *ebpf.Program { return p.IlSockops }},
	{"getpeername4", ebpf.AttachCgroupInet4GetPeername, func(p *redirectPrograms) *ebpf.Program { return p.IlGetpeername4 }},
	{"getpeername6", ebpf.AttachCgroupInet6GetPeername, func(p *redirectPrograms) *ebpf.Program { return p.IlGetpeername6 }},
	{"connect4", ebpf.AttachCGroupInet4Connect, func(p *redirectPrograms) *ebpf.Program { return p.IlConnect4 }},
	{"connect6", ebpf.AttachCGroupInet6Connect, func(p *redirectPrograms) *ebpf.Program { return p.IlConnect6 }},
}

func linkPinPath(pinDir, name string) string {
	return filepath.Join(pinDir, "link_"+name)
}

// attachAll attaches (or updates) every hook at cg and pins the links. On
// error, links it created are unpinned again (which detaches them); pinned
// links it updated keep the new program.
func attachAll(pinDir string, cg cgroupTarget, progs *redirectPrograms, log *slog.Logger) ([]link.Link, error) {
	var links, created []link.Link
	for _, h := range hooks {
		l, isNew, err := attachOne(pinDir, cg, h, h.prog(progs), log)
		if err != nil {
			errs := []error{fmt.Errorf("attach %s: %w", h.name, err)}
			for _, c := range created {
				errs = append(errs, c.Unpin())
			}
			errs = append(errs, closeLinks(links))
			return nil, errors.Join(errs...)
		}
		links = append(links, l)
		if isNew {
			created = append(created, l)
		}
	}
	return links, nil
}

// attachOne reuses the pinned link of h, swapping in prog atomically, or
// attaches and pins a new one. A link pinned for another cgroup is replaced:
// the new one is attached before the old one is detached.
func attachOne(pinDir string, cg cgroupTarget, h hook, prog *ebpf.Program, log *slog.Logger) (l link.Link, created bool, err error) {
	path := linkPinPath(pinDir, h.name)
	old, err := link.LoadPinnedLink(path, nil)
	switch {
	case errors.Is(err, os.ErrNotExist):
		old = nil
	case err != nil:
		return nil, false, fmt.Errorf("open pinned link %s: %w", path, err)
	default:
		if sameAttachment(old, cg.id, h.attach) {
			if err := old.Update(prog); err != nil {
				return nil, false, errors.Join(fmt.Errorf("update pinned link: %w", err), old.Close())
			}
			return old, false, nil
		}
		log.Info("moving pinned link to a new cgroup", logKeyLink, h.name, logKeyCgroup, cg.path)
	}

	l, err = link.AttachCgroup(link.CgroupOptions{Path: cg.path, Attach: h.attach, Program: prog})
	if err != nil {
		if old != nil {
			err = errors.Join(err, old.Close())
		}
		return nil, false, err
	}
	if old != nil {
		if err := retireLink(old); err != nil {
			return nil, false, errors.Join(err, l.Close())
		}
	}
	if err := l.Pin(path); err != nil {
		return nil, false, errors.Join(fmt.Errorf("pin link: %w", err), l.Close())
	}
	return l, true, nil
}

// sameAttachment reports whether l is a cgroup link of type attach on cgroupID.
func sameAttachment(l link.Link, cgroupID uint64, attach ebpf.AttachType) bool {
	info, err := l.Info()
	if err != nil {
		return false
	}
	ci := info.Cgroup()
	return ci != nil && ci.CgroupId == cgroupID && ebpf.AttachType(ci.AttachType) == attach
}

// retireLink detaches, unpins and closes a link.
func retireLink(l link.Link) error {
	var errs []error
	if err := l.Detach(); err != nil && !errors.Is(err, link.ErrNotSupported) {
		errs = append(errs, fmt.Errorf("detach link: %w", err))
	}
	if err := l.Unpin(); err != nil {
		errs = append(errs, fmt.Errorf("unpin link: %w", err))
	}
	if err := l.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close link: %w", err))
	}
	return errors.Join(errs...)
}

func closeLinks(links []link.Link) error {
	var errs []error
	for _, l := range links {
		errs = append(errs, l.Close())
	}
	return errors.Join(errs...)
}
