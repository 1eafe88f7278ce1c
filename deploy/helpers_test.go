package deploy

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/interlock-dev/interlock/daemon/config"
)

// capabilities is what interlockd needs, and all it gets, in the systemd
// unit and the DaemonSet (docs/operations.md, "Capabilities"): each one was
// checked by running interlockd without it.
var capabilities = []string{"BPF", "DAC_READ_SEARCH", "NET_ADMIN", "PERFMON", "SYS_PTRACE"}

// repoRoot is the module root, one level above this package.
func repoRoot(tb testing.TB) string {
	tb.Helper()
	abs, err := filepath.Abs("..")
	if err != nil {
		tb.Fatal(err)
	}
	return abs
}

func readFile(tb testing.TB, path string) []byte {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// mustParseConfig runs the real configuration validator over b.
func mustParseConfig(tb testing.TB, what string, b []byte) *config.Config {
	tb.Helper()
	cfg, err := config.Parse(b)
	if err != nil {
		tb.Fatalf("%s does not pass config.Parse:\n%v", what, err)
	}
	return cfg
}

// configPath is one file or directory the configuration names, and whether
// interlockd writes below it.
type configPath struct {
	field    string
	path     string
	writable bool
}

// configPaths lists the paths cfg makes interlockd read or write. For files
// that interlockd creates, the parent directory is what must be writable.
func configPaths(cfg *config.Config) []configPath {
	var out []configPath
	add := func(field, path string, writable bool) {
		if path != "" {
			out = append(out, configPath{field, path, writable})
		}
	}
	for i, e := range cfg.Endpoints {
		for j, r := range e.Roles {
			add(fmt.Sprintf("endpoints[%d].roles[%d].password_file", i, j), r.PasswordFile, false)
		}
		add(fmt.Sprintf("endpoints[%d].upstream.sslrootcert", i), e.Upstream.SSLRootCert, false)
		add(fmt.Sprintf("endpoints[%d].upstream.sslcert", i), e.Upstream.SSLCert, false)
		add(fmt.Sprintf("endpoints[%d].upstream.sslkey", i), e.Upstream.SSLKey, false)
	}
	for i, p := range cfg.Policy.Paths {
		add(fmt.Sprintf("policy.paths[%d]", i), p, false)
	}
	add("audit.signing_key_file", cfg.Audit.SigningKeyFile, false)
	add("audit.path", filepath.Dir(cfg.Audit.Path), true)
	add("control.socket", filepath.Dir(cfg.Control.Socket), true)
	add("control.sessions_file", filepath.Dir(cfg.Control.SessionsFile), true)
	add("tls.ca_dir", cfg.TLS.CADir, true)
	if cfg.Approvals.Store.Kind == "local" && cfg.Approvals.Store.Path != "" {
		add("approvals.store.path", filepath.Dir(cfg.Approvals.Store.Path), true)
	}
	add("approvals.store.dsn_file", cfg.Approvals.Store.DSNFile, false)
	add("approvals.webhook.secret_file", cfg.Approvals.Webhook.SecretFile, false)
	add("approvals.api_tls_cert", cfg.Approvals.APITLSCert, false)
	add("approvals.api_tls_key", cfg.Approvals.APITLSKey, false)
	if cfg.Redirect.Enabled {
		add("redirect.pin_dir", cfg.Redirect.PinDir, true)
		add("redirect.cgroup", cfg.Redirect.Cgroup, false)
	}
	return out
}

// under reports whether path is dir or below it.
func under(path, dir string) bool {
	path, dir = filepath.Clean(path), filepath.Clean(dir)
	return path == dir || strings.HasPrefix(path, strings.TrimSuffix(dir, "/")+"/")
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
