package redirect

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// iface is an interface the tc program goes on.
type iface struct {
	name  string
	index int
	// eth: the device has an Ethernet header (or lo's); otherwise packets
	// start at the IP header (tun, wireguard, ip tunnels).
	eth bool
}

func ifaceOf(l netlink.Link) iface {
	a := l.Attrs()
	return iface{name: a.Name, index: a.Index, eth: a.EncapType == "ether" || a.EncapType == "loopback"}
}

// interfaces resolves GuardConfig.Interfaces in the host network
// namespace. A configured name that does not exist is an error.
func (g *Guard) interfaces() ([]iface, error) {
	if len(g.cfg.Interfaces) == 0 {
		return nil, nil
	}
	all, err := netlink.LinkList()
	if err != nil {
		return nil, fmt.Errorf("list interfaces: %w", err)
	}
	var (
		out  []iface
		errs []error
		seen = map[string]bool{}
	)
	for _, l := range all {
		if name := l.Attrs().Name; g.cfg.matchInterface(name) {
			out = append(out, ifaceOf(l))
			seen[name] = true
		}
	}
	for _, n := range g.cfg.Interfaces {
		if !isPattern(n) && !seen[n] {
			errs = append(errs, fmt.Errorf("interface %s: not found", n))
		}
	}
	return out, errors.Join(errs...)
}

func tcxPinPath(pinDir string, index int) string {
	return filepath.Join(pinDir, tcxPinPrefix+strconv.Itoa(index))
}

// attachTC puts the tc program on ifc's egress, first in the chain so no
// other program can pass a packet before the guard saw it. A link pinned
// for the interface by an earlier run gets the new program atomically.
func (g *Guard) attachTC(ifc iface) (l link.Link, created bool, err error) {
	prog := g.objs.IlGuardTcL3
	if ifc.eth {
		prog = g.objs.IlGuardTcEth
	}
	path := tcxPinPath(g.r.pinDir, ifc.index)
	old, err := link.LoadPinnedLink(path, nil)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		// Defunct (its interface is gone and the index reused): replace.
		if err := os.Remove(path); err != nil {
			return nil, false, fmt.Errorf("remove stale tc pin: %w", err)
		}
	default:
		if tcxIfindex(old) == ifc.index {
			if err := old.Update(prog); err != nil {
				return nil, false, errors.Join(fmt.Errorf("update pinned tc link: %w", err), old.Close())
			}
			return old, false, nil
		}
		if err := retireLink(old); err != nil {
			return nil, false, err
		}
	}
	l, err = link.AttachTCX(link.TCXOptions{
		Interface: ifc.index,
		Program:   prog,
		Attach:    ebpf.AttachTCXEgress,
		Anchor:    link.Head(),
	})
	if err != nil {
		return nil, false, fmt.Errorf("attach tcx egress (Linux 6.6+): %w", err)
	}
	if err := l.Pin(path); err != nil {
		return nil, false, errors.Join(fmt.Errorf("pin tc link: %w", err), l.Close())
	}
	return l, true, nil
}

// tcxIfindex returns the interface a tcx link is attached to, 0 if none.
func tcxIfindex(l link.Link) int {
	info, err := l.Info()
	if err != nil {
		return 0
	}
	t := info.TCX()
	if t == nil {
		return 0
	}
	return int(t.Ifindex)
}

// retireStaleTC removes pinned tc links that this guard does not hold:
// interfaces that are gone or no longer configured.
func (g *Guard) retireStaleTC() error {
	pins, err := filepath.Glob(filepath.Join(g.r.pinDir, tcxPinPrefix+"*"))
	if err != nil {
		return err
	}
	var errs []error
	for _, p := range pins {
		idx, err := strconv.Atoi(strings.TrimPrefix(filepath.Base(p), tcxPinPrefix))
		if err == nil {
			if _, ok := g.tc[idx]; ok {
				continue
			}
		}
		l, err := link.LoadPinnedLink(p, nil)
		if err != nil {
			errs = append(errs, os.Remove(p))
			continue
		}
		errs = append(errs, retireLink(l))
	}
	return errors.Join(errs...)
}

// watchInterfaces subscribes to interface changes. Once start is called,
// interfaces created later that match the configuration get the tc
// program, and removed ones are forgotten (their tcx links detach with
// them).
func (g *Guard) watchInterfaces() (start func(), err error) {
	ch := make(chan netlink.LinkUpdate, 64)
	done := make(chan struct{})
	err = netlink.LinkSubscribeWithOptions(ch, done, netlink.LinkSubscribeOptions{
		ErrorCallback: func(err error) { g.log.Warn("interface watch", logKeyError, err) },
	})
	if err != nil {
		return nil, fmt.Errorf("subscribe to interface changes: %w", err)
	}
	ready := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		select {
		case <-ready:
		case <-done:
		}
		// The subscription closes ch once it notices done.
		for u := range ch {
			select {
			case <-done:
				continue
			default:
			}
			g.onLinkUpdate(u)
		}
	}()
	var once sync.Once
	g.stopWatch = func() {
		once.Do(func() {
			close(done)
			<-finished
		})
	}
	return func() { close(ready) }, nil
}

func (g *Guard) onLinkUpdate(u netlink.LinkUpdate) {
	ifc := ifaceOf(u.Link)
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed || (u.Header.Type == unix.RTM_NEWLINK && !g.cfg.matchInterface(ifc.name)) {
		return
	}
	switch u.Header.Type {
	case unix.RTM_NEWLINK:
		if _, ok := g.tc[ifc.index]; ok {
			return
		}
		l, _, err := g.attachTC(ifc)
		if err != nil {
			g.log.Warn("attach tc to new interface", "interface", ifc.name, logKeyError, err)
			g.degraded = append(g.degraded, fmt.Sprintf("attach tc on %s: %v", ifc.name, err))
			return
		}
		g.tc[ifc.index] = l
		g.log.Info("tc guard attached to new interface", "interface", ifc.name)
	case unix.RTM_DELLINK:
		l, ok := g.tc[ifc.index]
		if !ok {
			return
		}
		delete(g.tc, ifc.index)
		if err := errors.Join(l.Unpin(), l.Close()); err != nil {
			g.log.Warn("forget tc link of removed interface", "interface", ifc.name, logKeyError, err)
		}
	}
}

func ifaceName(index int) string {
	if ifc, err := net.InterfaceByIndex(index); err == nil {
		return ifc.Name
	}
	return "#" + strconv.Itoa(index)
}
