package redirect

import (
	"context"
	"errors"
	"net/netip"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Sweep looks for TCP connections to protected endpoints that the redirect
// never saw because they are older than it: sockets in the host network
// namespace, under the enforcement cgroup, not carrying the daemon mark. In
// enforce mode each is destroyed (SOCK_DESTROY: the process gets
// ECONNABORTED, the database a reset); in monitor mode it is left alone.
// Each is reported as a preexisting_connection event, attributed to the
// process holding the socket. NewGuard runs it once after attaching (the
// guard already drops such connections' packets by then). It returns how
// many connections it found.
//
// Connections in other network namespaces are not listed by sock_diag; the
// guard drops their packets (guard_drop events) instead.
func (g *Guard) Sweep(ctx context.Context) (int, error) {
	g.mu.Lock()
	closed, mode := g.closed, g.cfg.Mode
	g.mu.Unlock()
	if closed {
		return 0, ErrClosed
	}
	if mode == GuardOff {
		return 0, nil
	}
	eps, err := g.r.Endpoints(ctx)
	if err != nil {
		return 0, err
	}
	if len(eps) == 0 {
		return 0, nil
	}
	enforceRel, err := filepath.Rel(g.r.cg.mount, g.r.cg.path)
	if err != nil {
		return 0, err
	}
	enforceRel = filepath.Clean("/" + enforceRel)

	var (
		found int
		errs  []error
	)
	for _, fam := range []uint8{unix.AF_INET, unix.AF_INET6} {
		if err := ctx.Err(); err != nil {
			return found, err
		}
		socks, err := dumpTCP(fam, tcpClientStates)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, s := range socks {
			if !protectedBy(eps, s.remote) || (s.hasMark && s.mark == g.r.mark) {
				continue
			}
			cgPath := ""
			if s.hasCg {
				cgPath, _ = cgroupPathByID(g.r.cg.mount, s.cgroupID)
				if !underCgroup(enforceRel, cgPath) {
					continue
				}
			}
			found++
			ev := g.sweepEvent(s, cgPath, mode)
			g.r.enrich(&ev, 0) // before destroying: the holder still has it
			if mode == GuardEnforce {
				if err := destroyTCP(s); err != nil && !errors.Is(err, unix.ENOENT) {
					// Its packets are dropped by the guard all the same.
					g.log.Warn("destroy existing connection", "connection", s.local.String()+" -> "+s.remote.String(), logKeyError, err)
					errs = append(errs, err)
				}
			}
			g.r.events.push(ev)
		}
	}
	if found > 0 {
		g.log.Warn("connections to protected endpoints existed before the guard", "count", found)
	}
	return found, errors.Join(errs...)
}

func (g *Guard) sweepEvent(s diagSocket, cgPath string, mode GuardMode) Event {
	action := ActionDetected
	if mode == GuardEnforce {
		action = ActionBlocked
	}
	ev := Event{
		Time:         time.Now(),
		Kind:         KindPreexisting,
		Action:       action,
		Count:        1,
		Known:        KnownUID | KnownNetns | KnownSource,
		UID:          s.uid,
		NetnsCookie:  g.r.netnsCookie,
		SocketCookie: uint64(s.cookie[1])<<32 | uint64(s.cookie[0]),
		SocketInode:  s.inode,
		SocketType:   unix.SOCK_STREAM,
		SocketFamily: uint16(s.family),
		Protocol:     unix.IPPROTO_TCP,
		Source:       unmapPort(s.local),
		Destination:  unmapPort(s.remote),
	}
	if s.hasCg {
		ev.Known |= KnownCgroup
		ev.CgroupID = s.cgroupID
		ev.Cgroup = cgPath
	}
	return ev
}

// protectedBy reports whether dst is one of eps.
func protectedBy(eps []Endpoint, dst netip.AddrPort) bool {
	a := dst.Addr().Unmap()
	for _, e := range eps {
		if e.Port == dst.Port() && e.Prefix.Contains(a) {
			return true
		}
	}
	return false
}

// underCgroup reports whether the cgroup path rel is root or below it.
func underCgroup(root, rel string) bool {
	return root == "/" || rel == root || strings.HasPrefix(rel, root+"/")
}

func unmapPort(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}
