package config

import (
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
)

// Load reads and validates the configuration file at path.
func Load(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(b)
}

// Parse decodes and validates a configuration document.
func Parse(b []byte) (*Config, error) {
	var c Config
	if err := yaml.UnmarshalWithOptions(b, &c, yaml.Strict(), yaml.DisallowUnknownField()); err != nil {
		return nil, fmt.Errorf("config: %s", yaml.FormatError(err, false, true))
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// Defaults.
const (
	DefaultListen             = "127.0.0.1:15432"
	DefaultMaxMessageSize     = 64 << 20
	DefaultMaxStatementBytes  = 4096
	DefaultGroupsClaim        = "groups"
	DefaultCacheSize          = 10000
	DefaultStartupTimeout     = 30 * time.Second
	DefaultConnectTimeout     = 10 * time.Second
	DefaultCheckpointInterval = time.Minute
	DefaultClientID           = "interlock-cli"
	DefaultPinDir             = "/sys/fs/bpf/interlock"
	DefaultUpstreamMark       = 0x1c0c4b00
	DefaultControlSocket      = "/run/interlock/interlockd.sock"
	DefaultSessionsFile       = "/var/lib/interlock/sessions.json"
	DefaultCADir              = "/var/lib/interlock/ca"
	DefaultDrainTimeout       = 30 * time.Second
	DefaultApprovalsFile      = "/var/lib/interlock/approvals.json"
)

// TLS modes towards clients.
const (
	TLSPrefer  = "prefer"
	TLSRequire = "require"
	TLSDisable = "disable"
)

// Guard modes.
const (
	GuardEnforce = "enforce"
	GuardMonitor = "monitor"
	GuardOff     = "off"
)

// Authentication modes of an endpoint.
const (
	AuthSession = "session"
	AuthToken   = "token"
)

// ParseProtected parses "ip:port", "cidr:port" or "[ipv6]:port".
func ParseProtected(s string) (netip.Prefix, uint16, error) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return netip.Prefix{}, 0, fmt.Errorf("%q: want address:port", s)
	}
	host, portS := strings.TrimSuffix(strings.TrimPrefix(s[:i], "["), "]"), s[i+1:]
	port, err := strconv.ParseUint(portS, 10, 16)
	if err != nil || port == 0 {
		return netip.Prefix{}, 0, fmt.Errorf("%q: bad port %q", s, portS)
	}
	if strings.Contains(host, "/") {
		p, err := netip.ParsePrefix(host)
		if err != nil {
			return netip.Prefix{}, 0, fmt.Errorf("%q: %w", s, err)
		}
		return p.Masked(), uint16(port), nil
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Prefix{}, 0, fmt.Errorf("%q: %w", s, err)
	}
	return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), uint16(port), nil
}

// Accepts reports whether the endpoint allows authentication mode m.
func (e *Endpoint) Accepts(m string) bool { return slices.Contains(e.Auth, m) }
