package testenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// netnsLinkBudget bounds the wait for the veth pair to come up.
const netnsLinkBudget = 10 * time.Second

// netnsSubnets is how many 10.250.N.0/24 subnets CreateNetNS may hand out.
const netnsSubnets = 250

// NetNS is a network namespace joined to the host by a veth pair, so the host
// reaches the addresses inside it and nothing leaves the machine:
//
//	host ns                          NetNS
//	HostIf  10.250.N.1/24   <--->   PeerIf  10.250.N.2/24
//	        fd00:250:N::1/64                fd00:250:N::2/64
//
// N is unique among the NetNS of all processes on the host (the veth name
// claims it). Run code inside with Do; sockets made there stay inside.
type NetNS struct {
	HostIf, PeerIf       string
	HostAddr4, PeerAddr4 netip.Addr
	HostAddr6, PeerAddr6 netip.Addr
	Prefix4, Prefix6     netip.Prefix

	ns        netns.NsHandle
	closeOnce sync.Once
	closeErr  error
}

// CreateNetNS makes the namespace and the veth pair. Close removes both.
func CreateNetNS(ctx context.Context) (*NetNS, error) {
	start := os.Getpid() % netnsSubnets
	for i := range netnsSubnets {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		idx := (start+i)%netnsSubnets + 1
		n, err := createNetNS(idx)
		if errors.Is(err, unix.EEXIST) {
			continue // subnet taken by another test
		}
		return n, err
	}
	return nil, errors.New("create netns: all test subnets 10.250.1-250.0/24 are in use")
}

func createNetNS(idx int) (_ *NetNS, err error) {
	n := &NetNS{
		HostIf:    fmt.Sprintf("ilh%d", idx),
		PeerIf:    fmt.Sprintf("iln%d", idx),
		HostAddr4: netip.AddrFrom4([4]byte{10, 250, byte(idx), 1}),
		PeerAddr4: netip.AddrFrom4([4]byte{10, 250, byte(idx), 2}),
		HostAddr6: netip.MustParseAddr(fmt.Sprintf("fd00:250:%x::1", idx)),
		PeerAddr6: netip.MustParseAddr(fmt.Sprintf("fd00:250:%x::2", idx)),
	}
	n.Prefix4 = netip.PrefixFrom(n.HostAddr4, 24).Masked()
	n.Prefix6 = netip.PrefixFrom(n.HostAddr6, 64).Masked()

	// The host-side name claims the index: EEXIST means another test has it.
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: n.HostIf}, PeerName: n.PeerIf}
	if err := netlink.LinkAdd(veth); err != nil {
		return nil, fmt.Errorf("add veth %s: %w", n.HostIf, err)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, n.Close())
		}
	}()
	if n.ns, err = newNetNSHandle(); err != nil {
		return nil, err
	}
	peer, err := netlink.LinkByName(n.PeerIf)
	if err != nil {
		return nil, fmt.Errorf("find veth peer: %w", err)
	}
	if err := netlink.LinkSetNsFd(peer, int(n.ns)); err != nil {
		return nil, fmt.Errorf("move veth peer into netns: %w", err)
	}
	host, err := netlink.LinkByName(n.HostIf)
	if err != nil {
		return nil, fmt.Errorf("find veth: %w", err)
	}
	hh, err := netlink.NewHandle()
	if err != nil {
		return nil, fmt.Errorf("netlink: %w", err)
	}
	defer hh.Close()
	if err := configureLink(hh, host, n.HostAddr4, n.HostAddr6); err != nil {
		return nil, err
	}
	h, err := netlink.NewHandleAt(n.ns)
	if err != nil {
		return nil, fmt.Errorf("netlink in netns: %w", err)
	}
	defer h.Close()
	lo, err := h.LinkByName("lo")
	if err != nil {
		return nil, fmt.Errorf("find lo in netns: %w", err)
	}
	if err := h.LinkSetUp(lo); err != nil {
		return nil, fmt.Errorf("set lo up in netns: %w", err)
	}
	if peer, err = h.LinkByName(n.PeerIf); err != nil {
		return nil, fmt.Errorf("find veth peer in netns: %w", err)
	}
	if err := configureLink(h, peer, n.PeerAddr4, n.PeerAddr6); err != nil {
		return nil, err
	}
	// Static neighbours: no ARP/NDP, whose first probe can be lost while the
	// link comes up and would then delay a connect by a second.
	if err := addNeighbours(hh, host, peer.Attrs().HardwareAddr, n.PeerAddr4, n.PeerAddr6); err != nil {
		return nil, err
	}
	if err := addNeighbours(h, peer, host.Attrs().HardwareAddr, n.HostAddr4, n.HostAddr6); err != nil {
		return nil, err
	}
	// Until the kernel's link watcher marks both ends running (up to a
	// second), packets are dropped and a first SYN would wait for its retry.
	if err := waitOperUp(hh, n.HostIf); err != nil {
		return nil, err
	}
	if err := waitOperUp(h, n.PeerIf); err != nil {
		return nil, err
	}
	// IPv6 addresses become local asynchronously after the link is up (even
	// without DAD); a SYN arriving before that is dropped.
	for _, w := range []struct {
		h *netlink.Handle
		a netip.Addr
	}{{hh, n.HostAddr6}, {h, n.PeerAddr6}, {hh, n.HostAddr4}, {h, n.PeerAddr4}} {
		if err := waitLocal(w.h, w.a); err != nil {
			return nil, err
		}
	}
	return n, nil
}

// waitLocal polls until addr is in the namespace's local routing table.
func waitLocal(h *netlink.Handle, addr netip.Addr) error {
	deadline := time.Now().Add(netnsLinkBudget)
	for {
		routes, err := h.RouteGet(addr.AsSlice())
		if err == nil && len(routes) > 0 && routes[0].Type == unix.RTN_LOCAL {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("address %s not local after %s (%v)", addr, netnsLinkBudget, err)
		}
		time.Sleep(5 * time.Millisecond) // poll: see waitOperUp
	}
}

// addNeighbours adds permanent neighbour entries for addrs at mac on l.
func addNeighbours(h *netlink.Handle, l netlink.Link, mac net.HardwareAddr, addrs ...netip.Addr) error {
	for _, a := range addrs {
		fam := netlink.FAMILY_V4
		if a.Is6() {
			fam = netlink.FAMILY_V6
		}
		err := h.NeighSet(&netlink.Neigh{
			LinkIndex:    l.Attrs().Index,
			Family:       fam,
			State:        netlink.NUD_PERMANENT,
			IP:           a.AsSlice(),
			HardwareAddr: mac,
		})
		if err != nil {
			return fmt.Errorf("add neighbour %s on %s: %w", a, l.Attrs().Name, err)
		}
	}
	return nil
}

// waitOperUp polls until the link's operational state is up.
func waitOperUp(h *netlink.Handle, name string) error {
	deadline := time.Now().Add(netnsLinkBudget)
	for {
		l, err := h.LinkByName(name)
		if err != nil {
			return fmt.Errorf("find %s: %w", name, err)
		}
		if l.Attrs().OperState == netlink.OperUp {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("link %s not up after %s (state %s)", name, netnsLinkBudget, l.Attrs().OperState)
		}
		time.Sleep(10 * time.Millisecond) // poll: netlink has no cheap wait for one state change
	}
}

// configureLink adds the /24 and /64 addresses (IPv6 without duplicate
// address detection, so they are usable at once) and sets the link up.
func configureLink(h *netlink.Handle, l netlink.Link, a4, a6 netip.Addr) error {
	for _, a := range []struct {
		addr  netip.Addr
		bits  int
		flags int
	}{{a4, 24, 0}, {a6, 64, unix.IFA_F_NODAD}} {
		ipn := &net.IPNet{IP: a.addr.AsSlice(), Mask: net.CIDRMask(a.bits, a.addr.BitLen())}
		if err := h.AddrAdd(l, &netlink.Addr{IPNet: ipn, Flags: a.flags}); err != nil {
			return fmt.Errorf("add %s to %s: %w", ipn, l.Attrs().Name, err)
		}
	}
	if err := h.LinkSetUp(l); err != nil {
		return fmt.Errorf("set %s up: %w", l.Attrs().Name, err)
	}
	return nil
}

// newNetNSHandle creates an unnamed network namespace (nothing in /run/netns
// to leak) and returns a handle that keeps it alive.
func newNetNSHandle() (netns.NsHandle, error) {
	var h netns.NsHandle
	err := onLockedThread(func(orig netns.NsHandle) error {
		var err error
		if h, err = netns.New(); err != nil {
			return fmt.Errorf("create netns: %w", err)
		}
		return nil
	})
	return h, err
}

// onLockedThread runs fn on a dedicated OS thread and puts the thread back
// into its original network namespace afterwards. If that fails, the thread
// is never unlocked, so the Go runtime discards it instead of reusing it.
func onLockedThread(fn func(orig netns.NsHandle) error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("get current netns: %w", err)
			return
		}
		defer orig.Close()
		ferr := fn(orig)
		if err := netns.Set(orig); err != nil {
			errc <- errors.Join(ferr, fmt.Errorf("restore netns: %w", err))
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// Do runs fn with the calling goroutine's work on an OS thread inside the
// namespace; sockets fn creates belong to the namespace.
func (n *NetNS) Do(fn func() error) error {
	return onLockedThread(func(netns.NsHandle) error {
		if err := netns.Set(n.ns); err != nil {
			return fmt.Errorf("enter netns: %w", err)
		}
		return fn()
	})
}

// Listen opens a listener inside the namespace, e.g. Listen(ctx, "tcp",
// "10.250.N.2:5432").
func (n *NetNS) Listen(ctx context.Context, network, address string) (net.Listener, error) {
	var l net.Listener
	err := n.Do(func() error {
		var err error
		l, err = (&net.ListenConfig{}).Listen(ctx, network, address)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("listen in netns: %w", err)
	}
	return l, nil
}

// Close deletes the veth pair and drops the namespace handle; the namespace
// goes away once sockets made in it are closed too. Safe to call twice.
func (n *NetNS) Close() error {
	n.closeOnce.Do(func() {
		var errs []error
		if l, err := netlink.LinkByName(n.HostIf); err == nil {
			if err := netlink.LinkDel(l); err != nil {
				errs = append(errs, fmt.Errorf("delete veth %s: %w", n.HostIf, err))
			}
		} else if _, ok := err.(netlink.LinkNotFoundError); !ok {
			errs = append(errs, fmt.Errorf("find veth %s: %w", n.HostIf, err))
		}
		if n.ns.IsOpen() {
			errs = append(errs, n.ns.Close())
		}
		n.closeErr = errors.Join(errs...)
	})
	return n.closeErr
}
