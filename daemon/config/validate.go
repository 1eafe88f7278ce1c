package config

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
)

// Validate checks every field and fills in defaults.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }

	if len(c.Endpoints) == 0 {
		bad("endpoints: at least one endpoint is required")
	}
	names := map[string]bool{}
	listens := map[string]bool{}
	for i := range c.Endpoints {
		e := &c.Endpoints[i]
		where := fmt.Sprintf("endpoints[%d]", i)
		if e.Name == "" {
			bad("%s.name: required", where)
		} else if names[e.Name] {
			bad("%s.name: duplicate endpoint %q", where, e.Name)
		}
		names[e.Name] = true
		if e.Listen == "" && i == 0 {
			e.Listen = DefaultListen
		}
		// ${VAR} in listen, e.g. ${NODE_IP}:15432 on Kubernetes.
		e.Listen = os.ExpandEnv(e.Listen)
		if _, err := netip.ParseAddrPort(e.Listen); err != nil {
			bad("%s.listen: %q is not ip:port: %v", where, e.Listen, err)
		} else if listens[e.Listen] {
			bad("%s.listen: %s is used by another endpoint", where, e.Listen)
		}
		listens[e.Listen] = true
		if e.Upstream.Address == "" {
			bad("%s.upstream.address: required", where)
		}
		switch e.Upstream.SSLMode {
		case "":
			e.Upstream.SSLMode = "prefer"
		case "disable", "allow", "prefer", "require", "verify-ca", "verify-full":
		default:
			bad("%s.upstream.sslmode: unknown mode %q", where, e.Upstream.SSLMode)
		}
		if (e.Upstream.SSLCert == "") != (e.Upstream.SSLKey == "") {
			bad("%s.upstream: sslcert and sslkey go together", where)
		}
		if e.Upstream.ConnectTimeout == 0 {
			e.Upstream.ConnectTimeout = DefaultConnectTimeout
		}
		switch e.ApprovalMode {
		case "":
			e.ApprovalMode = "blocking"
		case "blocking", "nonblocking":
		default:
			bad("%s.approval_mode: unknown mode %q (blocking, nonblocking)", where, e.ApprovalMode)
		}
		if len(e.Auth) == 0 {
			e.Auth = []string{AuthSession, AuthToken}
		}
		for _, a := range e.Auth {
			if a != AuthSession && a != AuthToken {
				bad("%s.auth: unknown mode %q (session, token)", where, a)
			}
		}
		for j, p := range e.Protect {
			if _, _, err := ParseProtected(p); err != nil {
				bad("%s.protect[%d]: %v", where, j, err)
			}
		}
		if len(e.Protect) > 0 && !c.Redirect.Enabled {
			bad("%s.protect: needs redirect.enabled", where)
		}
		if len(e.Roles) == 0 {
			bad("%s.roles: at least one group-to-user mapping is required", where)
		}
		if e.CatalogUser != "" && !slices.ContainsFunc(e.Roles, func(r Role) bool { return r.User == e.CatalogUser }) {
			bad("%s.catalog_user: %q is not the user of any role", where, e.CatalogUser)
		}
		for j, r := range e.Roles {
			rw := fmt.Sprintf("%s.roles[%d]", where, j)
			if r.Group == "" {
				bad("%s.group: required", rw)
			}
			if r.User == "" {
				bad("%s.user: required", rw)
			}
			if r.PasswordFile != "" && r.PasswordEnv != "" {
				bad("%s: set password_file or password_env, not both", rw)
			}
		}
	}
	if c.Identity.Issuer == "" {
		bad("identity.issuer: required")
	}
	if c.Identity.Audience == "" {
		bad("identity.audience: required")
	}
	if c.Identity.ClientID == "" {
		c.Identity.ClientID = DefaultClientID
	}
	if c.Redirect.PinDir == "" {
		c.Redirect.PinDir = DefaultPinDir
	}
	if c.Redirect.Enabled && c.UpstreamMark == 0 {
		c.UpstreamMark = DefaultUpstreamMark
	}
	switch c.Guard {
	case "":
		c.Guard = GuardOff
		if c.Redirect.Enabled {
			c.Guard = GuardEnforce
		}
	case GuardEnforce, GuardMonitor:
		if !c.Redirect.Enabled {
			bad("guard: %s needs redirect.enabled", c.Guard)
		}
	case GuardOff:
	default:
		bad("guard: unknown mode %q (enforce, monitor, off)", c.Guard)
	}
	if len(c.UnixSockets) > 0 && c.Guard == GuardOff {
		bad("unix_sockets: needs the guard (guard: enforce or monitor)")
	}
	switch c.TLS.Mode {
	case "":
		c.TLS.Mode = TLSPrefer
	case TLSPrefer, TLSRequire, TLSDisable:
	default:
		bad("tls.mode: unknown mode %q (prefer, require, disable)", c.TLS.Mode)
	}
	if c.TLS.CADir == "" {
		c.TLS.CADir = DefaultCADir
	}
	switch c.Approvals.Store.Kind {
	case "":
		c.Approvals.Store.Kind = "local"
	case "local":
	case "postgres":
		if (c.Approvals.Store.DSN == "") == (c.Approvals.Store.DSNFile == "") {
			bad("approvals.store: the postgres store needs dsn or dsn_file (one of them)")
		}
	default:
		bad("approvals.store.kind: unknown kind %q (local, postgres)", c.Approvals.Store.Kind)
	}
	if c.Approvals.Store.Path == "" {
		c.Approvals.Store.Path = DefaultApprovalsFile
	}
	if c.Approvals.NodeName == "" {
		c.Approvals.NodeName, _ = os.Hostname()
	}
	if c.Control.Socket == "" {
		c.Control.Socket = DefaultControlSocket
	}
	if c.Control.SessionsFile == "" {
		c.Control.SessionsFile = DefaultSessionsFile
	}
	if c.Identity.GroupsClaim == "" {
		c.Identity.GroupsClaim = DefaultGroupsClaim
	}
	if len(c.Identity.Algorithms) == 0 {
		c.Identity.Algorithms = []string{"RS256", "ES256"}
	}
	for _, a := range c.Identity.Algorithms {
		if strings.HasPrefix(strings.ToUpper(a), "HS") || strings.EqualFold(a, "none") {
			bad("identity.algorithms: %s is not allowed (symmetric or unsigned)", a)
		}
	}
	if c.Policy.CacheSize == 0 {
		c.Policy.CacheSize = DefaultCacheSize
	} else if c.Policy.CacheSize < 0 {
		bad("policy.cache_size: must be positive")
	}
	if c.Policy.Watch == nil {
		t := true
		c.Policy.Watch = &t
	}
	if c.Audit.Path == "" {
		bad("audit.path: required (the audit log cannot be disabled)")
	}
	if c.Audit.MaxStatementBytes == 0 {
		c.Audit.MaxStatementBytes = DefaultMaxStatementBytes
	} else if c.Audit.MaxStatementBytes < 64 {
		bad("audit.max_statement_bytes: must be at least 64")
	}
	if c.Audit.CheckpointInterval == 0 {
		c.Audit.CheckpointInterval = DefaultCheckpointInterval
	}
	if c.Audit.WritebackInterval < 0 {
		bad("audit.writeback_interval: must not be negative")
	}
	if c.Metrics.Listen != "" {
		if _, err := netip.ParseAddrPort(c.Metrics.Listen); err != nil {
			bad("metrics.listen: %q is not ip:port: %v", c.Metrics.Listen, err)
		}
	}
	if c.Limits.MaxMessageSize == 0 {
		c.Limits.MaxMessageSize = DefaultMaxMessageSize
	} else if c.Limits.MaxMessageSize < 1024 {
		bad("limits.max_message_size: must be at least 1024")
	}
	if c.Limits.CPUs < 0 {
		bad("limits.cpus: must not be negative")
	}
	if c.Limits.DrainTimeout == 0 {
		c.Limits.DrainTimeout = DefaultDrainTimeout
	}
	if c.Limits.AdaptiveCPUs == nil {
		t := true
		c.Limits.AdaptiveCPUs = &t
	}
	if c.Limits.StartupTimeout == 0 {
		c.Limits.StartupTimeout = DefaultStartupTimeout
	}
	return errors.Join(errs...)
}
