package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/interlock-dev/interlock/daemon/config"
	"github.com/interlock-dev/interlock/testenv"
)

// benchGroup is the identity group of the bench token; the default policy
// lets it do everything on a development endpoint.
const benchGroup = "admins"

// startInterlockd runs bin/interlockd with one endpoint in front of the
// cluster, mapping the token's group to interlock_admin. pgbench logs in
// with the OIDC token as its password.
func startInterlockd(ctx context.Context, st *stack) (*target, error) {
	dir := filepath.Join(st.dir, "interlockd")
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, fmt.Errorf("make interlockd dir: %w", err)
	}
	pwFile := filepath.Join(dir, "admin.pw")
	if err := os.WriteFile(pwFile, []byte(testenv.RoleAdminPassword+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("write interlockd password file: %w", err)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	doc, err := interlockdConfig(interlockdParams{
		Listen:       fmt.Sprintf("127.0.0.1:%d", port),
		Upstream:     st.pg.Addr().String(),
		PasswordFile: pwFile,
		Issuer:       st.issuer.URL,
		Audience:     st.issuer.Audience,
		AuditPath:    filepath.Join(dir, "audit.jsonl"),
	})
	if err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(dir, "interlockd.yaml")
	if err := os.WriteFile(cfgPath, doc, 0o600); err != nil {
		return nil, fmt.Errorf("write interlockd config: %w", err)
	}
	cmd := exec.Command(st.tools.Interlockd, "-config", cfgPath, "-log-level", "warn")
	cmd.Dir = dir
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", "HOME=" + dir}
	c, err := startChild("interlockd", cmd, filepath.Join(st.dir, "interlockd.log"))
	if err != nil {
		return nil, err
	}
	t := &target{
		Name: targetInterlockd, Host: "127.0.0.1", Port: port, Database: st.pg.Database,
		User: testenv.RoleAdmin, Password: st.token, Proxy: c, close: c.Close,
	}
	if err := waitConnectable(ctx, c, t.dsn()); err != nil {
		return nil, fmt.Errorf("start interlockd: %w", errors.Join(err, c.Close()))
	}
	return t, nil
}

// interlockdParams are the variable parts of the bench configuration.
type interlockdParams struct {
	Listen, Upstream, PasswordFile, Issuer, Audience, AuditPath string
}

// interlockdConfig renders the YAML configuration and validates it with
// interlockd's own strict parser, so a config change shows up here first.
func interlockdConfig(p interlockdParams) ([]byte, error) {
	doc := map[string]any{
		"endpoints": []any{map[string]any{
			"name":     "bench",
			"listen":   p.Listen,
			"labels":   map[string]string{"environment": "development"},
			"upstream": map[string]any{"address": p.Upstream, "sslmode": "disable"},
			"roles": []any{map[string]any{
				"group": benchGroup, "user": testenv.RoleAdmin, "password_file": p.PasswordFile,
			}},
		}},
		"identity": map[string]any{"issuer": p.Issuer, "audience": p.Audience},
		"audit":    map[string]any{"path": p.AuditPath},
		"metrics":  map[string]any{"listen": "127.0.0.1:0"},
	}
	// Everything else interlockd keeps goes next to the audit log, not in
	// the host's /run and /var/lib.
	state := filepath.Join(filepath.Dir(p.AuditPath), "state")
	doc["control"] = map[string]any{"socket": filepath.Join(state, "interlockd.sock"), "sessions_file": filepath.Join(state, "sessions.json")}
	doc["approvals"] = map[string]any{"store": map[string]any{"path": filepath.Join(state, "approvals.json")}}
	doc["tls"] = map[string]any{"ca_dir": filepath.Join(state, "ca")}
	b, err := yaml.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("render interlockd config: %w", err)
	}
	if _, err := config.Parse(b); err != nil {
		return nil, fmt.Errorf("check interlockd config: %w", err)
	}
	return b, nil
}

// mintBenchToken mints a token for the bench group valid for ttl.
func mintBenchToken(iss *testenv.Issuer, ttl time.Duration) (string, error) {
	tok, err := iss.Mint(testenv.MintOptions{
		Subject: "bench", Email: "bench@example.com", Groups: []string{benchGroup},
		Expiry: time.Now().Add(ttl),
	})
	if err != nil {
		return "", fmt.Errorf("mint bench token: %w", err)
	}
	return tok, nil
}
