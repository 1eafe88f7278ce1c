package config

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
)

// Config is the whole interlockd configuration.
type Config struct {
	// Endpoints are the protected databases.
	Endpoints []Endpoint `yaml:"endpoints"`
	// Identity configures OIDC token verification.
	Identity Identity `yaml:"identity"`
	// Policy configures the OPA policy.
	Policy Policy `yaml:"policy"`
	// Audit configures the audit chain.
	Audit Audit `yaml:"audit"`
	// Metrics configures the Prometheus endpoint.
	Metrics Metrics `yaml:"metrics"`
	// Limits bound what a client may send.
	Limits Limits `yaml:"limits"`
	// TLS configures TLS towards clients.
	TLS TLS `yaml:"tls"`
	// Approvals configures per-statement approvals.
	Approvals Approvals `yaml:"approvals"`
	// Redirect configures the eBPF redirect.
	Redirect Redirect `yaml:"redirect"`
	// Guard blocks every other path to a protected endpoint: "enforce"
	// (default with the redirect: drop and alert), "monitor" (alert only,
	// for observing a rollout) or "off". If the guard cannot be attached
	// in enforce mode, interlockd refuses to start.
	Guard string `yaml:"guard"`
	// GuardInterfaces are the interfaces (names or globs) the tc egress
	// backstop attaches to. Default ["*"]: every interface, and new ones.
	GuardInterfaces []string `yaml:"guard_interfaces"`
	// UnixSockets are local database sockets only interlockd may connect
	// to, e.g. /var/run/postgresql/.s.PGSQL.5432.
	UnixSockets []string `yaml:"unix_sockets"`
	// UnixAllowCgroups are cgroup paths also allowed to those sockets.
	UnixAllowCgroups []string `yaml:"unix_allow_cgroups"`
	// Alerts configures where bypass alerts go.
	Alerts Alerts `yaml:"alerts"`
	// Recording configures session recording (endpoints opt in with
	// record_results).
	Recording Recording `yaml:"recording"`
	// Control configures the control socket and host sessions.
	Control Control `yaml:"control"`
	// UpstreamMark is the SO_MARK set on interlockd's own upstream sockets
	// so the kernel hooks recognise them. 0 disables marking (only valid
	// when no redirect is attached).
	UpstreamMark uint32 `yaml:"upstream_mark"`
}

// Endpoint is one protected PostgreSQL server.
type Endpoint struct {
	// Name identifies the endpoint in policy input, audit and metrics.
	Name string `yaml:"name"`
	// Listen is the address interlockd accepts clients on for this
	// endpoint. Default 127.0.0.1:15432 for the first endpoint. ${VAR} is
	// expanded from the environment. A loopback listener serves the host's
	// network namespace only; connects from other namespaces (containers)
	// are refused and alerted. A listener on an address those namespaces
	// route to (the node IP) serves them too.
	Listen string `yaml:"listen"`
	// Labels are free-form key/values passed to policy (environment: production).
	Labels map[string]string `yaml:"labels"`
	// Upstream is the real database server.
	Upstream Upstream `yaml:"upstream"`
	// Roles map identity groups to upstream database users, first match wins.
	Roles []Role `yaml:"roles"`
	// Protect lists the addresses clients use for this database, as
	// "ip:port", "cidr:port" or "[ipv6]:port". With the redirect enabled,
	// every TCP connect to them on this host is sent to Listen.
	Protect []string `yaml:"protect"`
	// Auth lists the ways a client may authenticate: "session" (the host
	// session of the connecting uid, redirected connections only) and
	// "token" (an OIDC token as the password). Default both.
	Auth []string `yaml:"auth"`
	// ApprovalMode is "blocking" (default: the statement is held in the
	// session until decided) or "nonblocking" (it fails at once with the
	// request id; re-running it after approval runs it once).
	ApprovalMode string `yaml:"approval_mode"`
	// RecordResults records what the database returns in each session
	// (see recording). Off by default.
	RecordResults bool `yaml:"record_results"`
	// ServerNames are extra DNS names for the endpoint's certificate (the
	// names clients use for the database, e.g. db.prod.internal).
	ServerNames []string `yaml:"server_names"`
	// CatalogUser is the user (one of Roles) of interlockd's own control
	// connections, which read the system catalogs. Default: the first role.
	CatalogUser string `yaml:"catalog_user"`
}

// CatalogRole returns the role used for catalog connections.
func (e *Endpoint) CatalogRole() Role {
	for _, r := range e.Roles {
		if r.User == e.CatalogUser {
			return r
		}
	}
	return e.Roles[0]
}

// Upstream is how interlockd reaches the database.
type Upstream struct {
	// Address is host:port of the server.
	Address string `yaml:"address"`
	// Database overrides the database the client asks for; empty keeps it.
	Database string `yaml:"database"`
	// SSLMode is a libpq sslmode for the upstream connection: disable,
	// prefer, require, verify-ca, verify-full. Default prefer.
	SSLMode string `yaml:"sslmode"`
	// SSLRootCert is the CA bundle for verify-ca/verify-full.
	SSLRootCert string `yaml:"sslrootcert"`
	// SSLCert and SSLKey authenticate interlockd to the server with a
	// client certificate (optional).
	SSLCert string `yaml:"sslcert"`
	SSLKey  string `yaml:"sslkey"`
	// ConnectTimeout bounds the upstream connect and handshake. Default 10s.
	ConnectTimeout time.Duration `yaml:"connect_timeout"`
}

// Role maps an identity group to the brokered upstream credential.
type Role struct {
	// Group is the identity group this role applies to; "*" matches anyone
	// authenticated.
	Group string `yaml:"group"`
	// User is the upstream database user.
	User string `yaml:"user"`
	// PasswordFile is a file holding the password (trailing newline trimmed).
	PasswordFile string `yaml:"password_file"`
	// PasswordEnv names an environment variable holding the password.
	PasswordEnv string `yaml:"password_env"`
}

// Password reads the role's password from its file or environment.
func (r Role) Password() (string, error) {
	switch {
	case r.PasswordFile != "":
		b, err := os.ReadFile(r.PasswordFile)
		if err != nil {
			return "", fmt.Errorf("read password for %s: %w", r.User, err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	case r.PasswordEnv != "":
		v, ok := os.LookupEnv(r.PasswordEnv)
		if !ok {
			return "", fmt.Errorf("password for %s: environment variable %s is not set", r.User, r.PasswordEnv)
		}
		return v, nil
	}
	return "", nil
}

// TLS configures TLS towards clients. Each endpoint gets a certificate from
// Interlock's local CA for its protected addresses, its upstream host, its
// listener and ServerNames.
type TLS struct {
	// Mode: "prefer" (default: TLS offered, plaintext accepted),
	// "require" (plaintext clients refused) or "disable" (SSLRequest
	// answered 'N').
	Mode string `yaml:"mode"`
	// CADir holds the local CA (ca.crt, ca.key), created on first start,
	// root-only. Default /var/lib/interlock/ca.
	CADir string `yaml:"ca_dir"`
}

// Approvals configures the approval service (statements the policy holds).
type Approvals struct {
	// NodeName names this interlockd among those sharing a store; it must
	// be stable across restarts. Default: the host name.
	NodeName string `yaml:"node_name"`
	// DefaultTimeout applies when the policy gives none (default 5m);
	// MaxTimeout caps any timeout (default 24h).
	DefaultTimeout time.Duration `yaml:"default_timeout"`
	MaxTimeout     time.Duration `yaml:"max_timeout"`
	// ApprovedTTL is how long an approval of a non-blocking request stays
	// usable (default 15m). Retention is how long decided requests are kept
	// (default 7 days).
	ApprovedTTL time.Duration `yaml:"approved_ttl"`
	Retention   time.Duration `yaml:"retention"`
	// Store is where requests live.
	Store ApprovalStore `yaml:"store"`
	// APIListen serves the HTTP API (OIDC bearer tokens) on this address;
	// empty disables it. Plaintext is allowed on loopback only, unless
	// APIAllowPlaintext.
	APIListen         string `yaml:"api_listen"`
	APITLSCert        string `yaml:"api_tls_cert"`
	APITLSKey         string `yaml:"api_tls_key"`
	APIAllowPlaintext bool   `yaml:"api_allow_plaintext"`
	// Webhook is called (JSON POST) when a request is created.
	Webhook ApprovalWebhook `yaml:"webhook"`
}

// ApprovalStore selects the approval store.
type ApprovalStore struct {
	// Kind is "local" (default: this host, a root-only file) or
	// "postgres" (shared by every node; LISTEN/NOTIFY wakes waiters).
	Kind string `yaml:"kind"`
	// Path is the local store's file. Default /var/lib/interlock/approvals.json.
	Path string `yaml:"path"`
	// DSN or DSNFile is the PostgreSQL store's connection string.
	DSN     string `yaml:"dsn"`
	DSNFile string `yaml:"dsn_file"`
	// Schema, Table and Channel name the store's objects (defaults
	// public, interlock_approvals, interlock_approvals).
	Schema  string `yaml:"schema"`
	Table   string `yaml:"table"`
	Channel string `yaml:"channel"`
}

// ApprovalWebhook is the request-created webhook.
type ApprovalWebhook struct {
	URL        string        `yaml:"url"`
	SecretFile string        `yaml:"secret_file"`
	Timeout    time.Duration `yaml:"timeout"`
	QueueSize  int           `yaml:"queue_size"`
}

// Alerts configures the bypass-alert pipeline. Alerts always go to the log,
// the audit chain, the metrics and `interlock alerts`.
type Alerts struct {
	// Webhook receives each alert as a JSON POST (retried with backoff).
	Webhook        string            `yaml:"webhook"`
	WebhookHeaders map[string]string `yaml:"webhook_headers"`
	// QueueSize bounds the webhook queue (default 1024); Timeout bounds
	// one delivery (default 5s).
	QueueSize int           `yaml:"queue_size"`
	Timeout   time.Duration `yaml:"timeout"`
	// DedupWindow merges repeats from one source and kind (default 10s);
	// RateLimit and Burst bound alerts per second overall.
	DedupWindow time.Duration `yaml:"dedup_window"`
	RateLimit   float64       `yaml:"rate_limit"`
	Burst       int           `yaml:"burst"`
}

// Recording configures what endpoints with record_results keep of what
// the database returned (after masking), per session, next to the audit
// log. Recording is best-effort; the audit chain is the evidence.
type Recording struct {
	// Dir holds one file per session. Default: "sessions" next to the
	// audit log.
	Dir string `yaml:"dir"`
	// MaxBytes bounds one session's file (default 16 MiB);
	// MaxRowsPerResult the rows kept per result (default 1000, -1 no limit).
	MaxBytes         int64 `yaml:"max_bytes"`
	MaxRowsPerResult int   `yaml:"max_rows_per_result"`
	// MaxAge removes recordings older than this (default: keep).
	MaxAge time.Duration `yaml:"max_age"`
}

// Redirect configures the eBPF connect redirect.
type Redirect struct {
	// Enabled attaches the redirect (needs CAP_BPF, CAP_NET_ADMIN,
	// CAP_PERFMON, CAP_DAC_READ_SEARCH and CAP_SYS_PTRACE; see
	// docs/operations.md).
	Enabled bool `yaml:"enabled"`
	// Cgroup is the cgroup v2 directory the hooks attach to. Default: the
	// root of the cgroup2 mount (every process on the host).
	Cgroup string `yaml:"cgroup"`
	// PinDir is where links and maps are pinned. Default /sys/fs/bpf/interlock.
	PinDir string `yaml:"pin_dir"`
}

// Control configures the control socket and the host sessions it creates.
type Control struct {
	// Socket is the unix socket path. Default /run/interlock/interlockd.sock.
	Socket string `yaml:"socket"`
	// SessionsFile persists host sessions (root-only). Default
	// /var/lib/interlock/sessions.json.
	SessionsFile string `yaml:"sessions_file"`
	// AdminGroup may read alerts and pending requests besides root.
	AdminGroup string `yaml:"admin_group"`
}

// Identity configures how client tokens are verified.
type Identity struct {
	// Issuer is the OIDC issuer URL; discovery and JWKS come from it.
	Issuer string `yaml:"issuer"`
	// Audience is the required "aud" of tokens.
	Audience string `yaml:"audience"`
	// GroupsClaim names the claim holding the groups; dots descend into
	// objects ("realm_access.roles"). Default "groups".
	GroupsClaim string `yaml:"groups_claim"`
	// Algorithms are the accepted signing algorithms. Default RS256, ES256.
	Algorithms []string `yaml:"algorithms"`
	// ClientID is the public OIDC client `interlock login` uses.
	// Default interlock-cli.
	ClientID string `yaml:"client_id"`
}

// Policy configures the OPA policy.
type Policy struct {
	// Paths are Rego files or directories; empty uses the built-in default.
	Paths []string `yaml:"paths"`
	// Data is passed to the policy as data.interlock_config.
	Data map[string]any `yaml:"data"`
	// CacheSize bounds the analysis and decision caches. Default 10000.
	CacheSize int `yaml:"cache_size"`
	// Watch reloads the policy when its files change. Default true.
	Watch *bool `yaml:"watch"`
	// MaskHashKeyFile holds the key (at least 16 bytes) of the "hash"
	// masking strategy, so hashed values stay stable across restarts and
	// nodes. Without it a random key is used per start.
	MaskHashKeyFile string `yaml:"mask_hash_key_file"`
}

// Audit configures the audit chain.
type Audit struct {
	// Path is the JSON-lines audit file. Required.
	Path string `yaml:"path"`
	// MaxStatementBytes bounds the statement text stored in a record; the
	// SHA-256 of the full text is always stored. Default 4096.
	MaxStatementBytes int `yaml:"max_statement_bytes"`
	// SigningKeyFile is an Ed25519 private key for signed checkpoints.
	SigningKeyFile string `yaml:"signing_key_file"`
	// CheckpointInterval is how often a signed checkpoint is written.
	CheckpointInterval time.Duration `yaml:"checkpoint_interval"`
	// RotateBytes rotates the file when it grows past this size; 0 never.
	RotateBytes int64 `yaml:"rotate_bytes"`
	// Fsync makes every synchronous record durable before the statement
	// is forwarded (slower).
	Fsync bool `yaml:"fsync"`
}

// Metrics configures the Prometheus endpoint.
type Metrics struct {
	// Listen is the address of the /metrics HTTP server; empty disables it.
	Listen string `yaml:"listen"`
}

// Limits bound client input.
type Limits struct {
	// MaxMessageSize bounds any client message but CopyData. Default 64 MiB.
	MaxMessageSize int `yaml:"max_message_size"`
	// StartupTimeout bounds the startup and authentication phase. Default 30s.
	StartupTimeout time.Duration `yaml:"startup_timeout"`
	// DrainTimeout is how long a shutdown waits for sessions to end before
	// terminating them. Default 30s.
	DrainTimeout time.Duration `yaml:"drain_timeout"`
}

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
	if c.Limits.DrainTimeout == 0 {
		c.Limits.DrainTimeout = DefaultDrainTimeout
	}
	if c.Limits.StartupTimeout == 0 {
		c.Limits.StartupTimeout = DefaultStartupTimeout
	}
	return errors.Join(errs...)
}
