package testenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// NetNSLink joins two NetNS directly by a veth pair, without the host in
// between (nothing is forwarded by the host):
//
//	NetNS a                               NetNS b
//	AIf  10.251.M.1/24 <--------------> BIf  10.251.M.2/24
//	     fd00:251:M::1/64                    fd00:251:M::2/64
//	route to b.Prefix4/6 via BAddr        route to a.Prefix4/6 via AAddr
//
// So a process in b reaches a.PeerAddr4 (and [a.PeerAddr6]) over the link.
type NetNSLink struct {
	AIf, BIf  string
	AAddr4    netip.Addr
	BAddr4    netip.Addr
	AAddr6    netip.Addr
	BAddr6    netip.Addr
	a         *NetNS
	closeOnce sync.Once
	closeErr  error
}

// LinkNetNS makes the link between a and b. Close removes it.
func LinkNetNS(ctx context.Context, a, b *NetNS) (*NetNSLink, error) {
	start := (int(a.ns) + 7*int(b.ns)) % netnsSubnets
	for i := range netnsSubnets {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		idx := (start+i)%netnsSubnets + 1
		l, err := linkNetNS(idx, a, b)
		if errors.Is(err, unix.EEXIST) {
			continue
		}
		return l, err
	}
	return nil, errors.New("link netns: all link subnets 10.251.1-250.0/24 are in use")
}

func linkNetNS(idx int, a, b *NetNS) (_ *NetNSLink, err error) {
	l := &NetNSLink{
		AIf:    fmt.Sprintf("ila%d", idx),
		BIf:    fmt.Sprintf("ilb%d", idx),
		AAddr4: netip.AddrFrom4([4]byte{10, 251, byte(idx), 1}),
		BAddr4: netip.AddrFrom4([4]byte{10, 251, byte(idx), 2}),
		AAddr6: netip.MustParseAddr(fmt.Sprintf("fd00:251:%x::1", idx)),
		BAddr6: netip.MustParseAddr(fmt.Sprintf("fd00:251:%x::2", idx)),
		a:      a,
	}
	// The name claims the index in the host namespace while both ends are there.
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: l.AIf}, PeerName: l.BIf}
	if err := netlink.LinkAdd(veth); err != nil {
		return nil, fmt.Errorf("add veth %s: %w", l.AIf, err)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, l.Close())
		}
	}()
	for _, end := range []struct {
		name string
		ns   *NetNS
	}{{l.AIf, a}, {l.BIf, b}} {
		link, err := netlink.LinkByName(end.name)
		if err != nil {
			return nil, fmt.Errorf("find %s: %w", end.name, err)
		}
		if err := netlink.LinkSetNsFd(link, int(end.ns.ns)); err != nil {
			return nil, fmt.Errorf("move %s into netns: %w", end.name, err)
		}
	}
	ha, err := netlink.NewHandleAt(a.ns)
	if err != nil {
		return nil, fmt.Errorf("netlink in netns: %w", err)
	}
	defer ha.Close()
	hb, err := netlink.NewHandleAt(b.ns)
	if err != nil {
		return nil, fmt.Errorf("netlink in netns: %w", err)
	}
	defer hb.Close()
	la, err := ha.LinkByName(l.AIf)
	if err != nil {
		return nil, fmt.Errorf("find %s: %w", l.AIf, err)
	}
	lb, err := hb.LinkByName(l.BIf)
	if err != nil {
		return nil, fmt.Errorf("find %s: %w", l.BIf, err)
	}
	if err := configureLink(ha, la, l.AAddr4, l.AAddr6); err != nil {
		return nil, err
	}
	if err := configureLink(hb, lb, l.BAddr4, l.BAddr6); err != nil {
		return nil, err
	}
	if err := addNeighbours(ha, la, lb.Attrs().HardwareAddr, l.BAddr4, l.BAddr6); err != nil {
		return nil, err
	}
	if err := addNeighbours(hb, lb, la.Attrs().HardwareAddr, l.AAddr4, l.AAddr6); err != nil {
		return nil, err
	}
	if err := waitOperUp(ha, l.AIf); err != nil {
		return nil, err
	}
	if err := waitOperUp(hb, l.BIf); err != nil {
		return nil, err
	}
	for _, w := range []struct {
		h *netlink.Handle
		a netip.Addr
	}{{ha, l.AAddr4}, {ha, l.AAddr6}, {hb, l.BAddr4}, {hb, l.BAddr6}} {
		if err := waitLocal(w.h, w.a); err != nil {
			return nil, err
		}
	}
	// Each side reaches the other's subnets over the link.
	for _, r := range []struct {
		h   *netlink.Handle
		dev netlink.Link
		dst netip.Prefix
		gw  netip.Addr
	}{
		{hb, lb, a.Prefix4, l.AAddr4}, {hb, lb, a.Prefix6, l.AAddr6},
		{ha, la, b.Prefix4, l.BAddr4}, {ha, la, b.Prefix6, l.BAddr6},
	} {
		dst := &net.IPNet{IP: r.dst.Addr().AsSlice(), Mask: net.CIDRMask(r.dst.Bits(), r.dst.Addr().BitLen())}
		route := &netlink.Route{LinkIndex: r.dev.Attrs().Index, Dst: dst, Gw: r.gw.AsSlice()}
		if err := r.h.RouteAdd(route); err != nil {
			return nil, fmt.Errorf("route %s via %s: %w", r.dst, r.gw, err)
		}
	}
	return l, nil
}

// Close deletes the veth pair (from namespace a; the peer goes with it).
// Safe to call twice.
func (l *NetNSLink) Close() error {
	l.closeOnce.Do(func() {
		del := func(h *netlink.Handle) error {
			link, err := h.LinkByName(l.AIf)
			if err != nil {
				if _, ok := err.(netlink.LinkNotFoundError); ok {
					return nil
				}
				return fmt.Errorf("find veth %s: %w", l.AIf, err)
			}
			if err := h.LinkDel(link); err != nil {
				return fmt.Errorf("delete veth %s: %w", l.AIf, err)
			}
			return nil
		}
		// Before it moved, the pair is in the host namespace.
		hh, err := netlink.NewHandle()
		if err != nil {
			l.closeErr = fmt.Errorf("netlink: %w", err)
			return
		}
		defer hh.Close()
		errs := []error{del(hh)}
		if l.a.ns.IsOpen() {
			if ha, err := netlink.NewHandleAt(l.a.ns); err == nil {
				errs = append(errs, del(ha))
				ha.Close()
			} else {
				errs = append(errs, fmt.Errorf("netlink in netns: %w", err))
			}
		}
		l.closeErr = errors.Join(errs...)
	})
	return l.closeErr
}
