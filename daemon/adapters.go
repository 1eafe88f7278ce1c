package daemon

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"

	"github.com/interlock-dev/interlock/daemon/catalog"
	"github.com/interlock-dev/interlock/daemon/config"
	"github.com/interlock-dev/interlock/daemon/hostsession"
	"github.com/interlock-dev/interlock/daemon/identity"
	"github.com/interlock-dev/interlock/daemon/proxy"
	"github.com/interlock-dev/interlock/daemon/upstream"
	"github.com/interlock-dev/interlock/policy"
	"github.com/interlock-dev/interlock/redirect"
	"github.com/jackc/pgx/v5/pgconn"
)

// redirectEndpoints maps every protected address to its endpoint's
// bound listener.
func (d *Daemon) redirectEndpoints() []redirect.Endpoint {
	var eps []redirect.Endpoint
	for _, e := range d.cfg.Endpoints {
		ln, _ := netip.ParseAddrPort(d.Proxy.Addr(e.Name).String())
		for _, p := range e.Protect {
			prefix, port, _ := config.ParseProtected(p)
			eps = append(eps, redirect.Endpoint{Prefix: prefix, Port: port, Listener: ln})
		}
	}
	return eps
}

// originFunc adapts the redirect's origin lookup to the proxy.
func originFunc(rd *redirect.Redirector) proxy.OriginFunc {
	return func(ctx context.Context, client, listener netip.AddrPort) (*policy.Origin, error) {
		o, err := rd.Origin(ctx, client, listener)
		if errors.Is(err, redirect.ErrNoOrigin) {
			return nil, proxy.ErrNoOrigin
		}
		if err != nil {
			return nil, err
		}
		return &policy.Origin{
			PID: int(o.PID), UID: int(o.UID), GID: int(o.GID),
			Comm: o.Comm, Exe: o.Exe, Cmdline: o.Cmdline,
			Cgroup: o.Cgroup, Netns: o.NetnsCookie,
			OriginalDestination: o.OriginalDst.String(),
		}, nil
	}
}

// hostSessions adapts the session store to the proxy.
type hostSessions struct{ s *hostsession.Store }

func (h hostSessions) Lookup(uid uint32) (*identity.Identity, bool) {
	if sess, ok := h.s.Lookup(uid); ok {
		return sess.Identity, true
	}
	return nil, false
}

// catalogConnector opens catalog connections as role.
func catalogConnector(d *upstream.Dialer, role config.Role) catalog.Connector {
	return func(ctx context.Context, database string) (*pgconn.PgConn, error) {
		pw, err := role.Password()
		if err != nil {
			return nil, err
		}
		return d.Open(ctx, role.User, pw, database, map[string]string{"application_name": "interlockd-catalog"})
	}
}

// certNames are the names and addresses clients may use for endpoint e:
// its protected addresses, its upstream host, its listener and ServerNames.
func certNames(e config.Endpoint) ([]string, []netip.Addr) {
	dns := slices.Clone(e.ServerNames)
	var ips []netip.Addr
	add := func(a netip.Addr) {
		if a.IsValid() && !a.IsUnspecified() && !slices.Contains(ips, a) {
			ips = append(ips, a.Unmap())
		}
	}
	for _, p := range e.Protect {
		if prefix, _, err := config.ParseProtected(p); err == nil && prefix.IsSingleIP() {
			add(prefix.Addr())
		}
	}
	if host, _, err := net.SplitHostPort(e.Upstream.Address); err == nil {
		if a, err := netip.ParseAddr(host); err == nil {
			add(a)
		} else if !slices.Contains(dns, host) {
			dns = append(dns, host)
		}
	}
	if ap, err := netip.ParseAddrPort(e.Listen); err == nil {
		add(ap.Addr())
	}
	return dns, ips
}
