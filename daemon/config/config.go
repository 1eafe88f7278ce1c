package config

import (
	"fmt"
	"os"
	"strings"
	"time"
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
	// WritebackInterval is how often the file's new pages are handed to
	// the disk without waiting (sync_file_range), bounding what a power
	// loss takes. Default 1s; not used with fsync.
	WritebackInterval time.Duration `yaml:"writeback_interval"`
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
	// CPUs is the most CPUs interlockd's Go code runs on at once
	// (GOMAXPROCS): the cap of adaptive sizing, or the fixed value without
	// it. 0, the default, means the Go runtime's choice: the CPUs
	// available, or the cgroup's CPU limit.
	CPUs int `yaml:"cpus"`
	// AdaptiveCPUs starts on one CPU and adds one while the daemon keeps
	// the ones it has busy or streams results in bulk, up to CPUs, giving
	// them back when the load falls (daemon/procs). Default true; false
	// leaves CPUs (or the runtime's choice) fixed. The GOMAXPROCS
	// environment variable, when set, overrides both settings.
	AdaptiveCPUs *bool `yaml:"adaptive_cpus"`
}
