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

// startInterlockd: pgbench connects to interlockd's listener with the
// bench token (group admins, so pii columns are masked) as its password.
func startInterlockd(ctx context.Context, st *stack) (*target, error) {
	c, port, err := st.interlockd(ctx)
	if err != nil {
		return nil, err
	}
	return &target{
		Name: targetInterlockd, Host: "127.0.0.1", Port: port, Database: st.pg.Database,
		User: testenv.RoleAdmin, Password: st.token, Proxy: c,
	}, nil
}

// startNoMask is startInterlockd with a token also in pii-readers.
func startNoMask(ctx context.Context, st *stack) (*target, error) {
	t, err := startInterlockd(ctx, st)
	if err != nil {
		return nil, err
	}
	t.Name, t.Password = targetNoMask, st.tokenPII
	return t, nil
}

// interlockd starts the shared bin/interlockd on first use and returns it
// with its listener's port. With the redirect, it runs in the redirect's
// cgroup (as it runs under the attach cgroup in production) and protects
// PostgreSQL's address there. The stack stops it.
func (st *stack) interlockd(ctx context.Context) (*child, uint16, error) {
	if st.ild != nil {
		return st.ild, st.ildPort, nil
	}
	dir := filepath.Join(st.dir, "interlockd")
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, 0, fmt.Errorf("make interlockd dir: %w", err)
	}
	pwFile := filepath.Join(dir, "admin.pw")
	if err := os.WriteFile(pwFile, []byte(testenv.RoleAdminPassword+"\n"), 0o600); err != nil {
		return nil, 0, fmt.Errorf("write interlockd password file: %w", err)
	}
	port, err := freePort()
	if err != nil {
		return nil, 0, err
	}
	p := interlockdParams{
		Listen:       fmt.Sprintf("127.0.0.1:%d", port),
		Upstream:     st.pg.Addr().String(),
		PasswordFile: pwFile,
		Issuer:       st.issuer.URL,
		Audience:     st.issuer.Audience,
		AuditPath:    filepath.Join(dir, "audit.jsonl"),
		PolicyData:   widePolicyData(),
	}
	if st.redirect != nil {
		p.Protect = []string{st.pg.Addr().String()}
		p.Redirect = &redirectParams{Cgroup: st.redirect.cg.Path, PinDir: st.redirect.pinDir}
	}
	doc, guardKey, err := interlockdConfig(p)
	if err != nil {
		return nil, 0, err
	}
	if st.redirect != nil {
		if guardKey != "" {
			st.notes = append(st.notes, fmt.Sprintf("interlockd's own guard setting is off (`%s`); the bench attaches and detaches the guard itself around each interlockd-guard run.", guardKey))
		} else {
			st.notes = append(st.notes, "interlockd's configuration has no guard setting yet; the bench attaches and detaches the guard itself (redirect.NewGuard on interlockd's pins) around each interlockd-guard run.")
		}
	}
	cfgPath := filepath.Join(dir, "interlockd.yaml")
	if err := os.WriteFile(cfgPath, doc, 0o600); err != nil {
		return nil, 0, fmt.Errorf("write interlockd config: %w", err)
	}
	cmd := exec.Command(st.tools.Interlockd, "-config", cfgPath, "-log-level", "warn")
	cmd.Dir = dir
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", "HOME=" + dir}
	if v := os.Getenv("INTERLOCKD_GOMAXPROCS"); v != "" {
		cmd.Env = append(cmd.Env, "GOMAXPROCS="+v) // for tuning experiments
	}
	if st.redirect != nil {
		st.redirect.cg.Apply(cmd)
	}
	c, err := startChild("interlockd", cmd, filepath.Join(st.dir, "interlockd.log"))
	if err != nil {
		return nil, 0, err
	}
	probe := &target{Host: "127.0.0.1", Port: port, Database: st.pg.Database, User: testenv.RoleAdmin, Password: st.token}
	if err := waitConnectable(ctx, c, probe.dsn()); err != nil {
		return nil, 0, fmt.Errorf("start interlockd: %w", errors.Join(err, c.Close()))
	}
	if st.redirect != nil {
		// The guard comparison needs interlockd without a guard of its own.
		if err := st.redirect.checkNoGuard(); err != nil {
			return nil, 0, fmt.Errorf("start interlockd: %w (set interlockd's guard setting to off in interlockdConfig)", errors.Join(err, c.Close()))
		}
	}
	st.ild, st.ildPort = c, port
	return c, port, nil
}

// interlockdParams are the variable parts of the bench configuration.
type interlockdParams struct {
	Listen, Upstream, PasswordFile, Issuer, Audience, AuditPath string
	// PolicyData is the policy's data.interlock_config.
	PolicyData map[string]any
	// Protect lists the addresses the redirect sends to Listen; it needs
	// Redirect.
	Protect []string
	// Redirect, when set, enables the eBPF redirect.
	Redirect *redirectParams
}

// redirectParams place the redirect: the attach cgroup and the pin dir.
type redirectParams struct {
	Cgroup, PinDir string
}

// guardOffSettings are the places interlockd's configuration may put its
// guard mode, tried in order; the first the strict parser accepts is used
// to turn interlockd's own guard off.
var guardOffSettings = []struct {
	Key string
	Set func(doc map[string]any)
}{
	{"guard: off", func(doc map[string]any) { doc["guard"] = "off" }},
	{"guard.mode: off", func(doc map[string]any) { doc["guard"] = map[string]any{"mode": "off"} }},
	{"redirect.guard: off", func(doc map[string]any) { doc["redirect"].(map[string]any)["guard"] = "off" }},
	{"redirect.guard.mode: off", func(doc map[string]any) { doc["redirect"].(map[string]any)["guard"] = map[string]any{"mode": "off"} }},
}

// interlockdConfig renders the YAML configuration and validates it with
// interlockd's own strict parser, so a config change shows up here first.
// With the redirect it also turns interlockd's own guard off when the
// configuration has a guard setting, and returns which (guardKey, empty
// when none is accepted).
func interlockdConfig(p interlockdParams) (doc []byte, guardKey string, err error) {
	if p.Redirect != nil {
		for _, g := range guardOffSettings {
			m := interlockdDoc(p)
			g.Set(m)
			if b, err := renderConfig(m); err == nil {
				return b, g.Key, nil
			}
		}
	}
	b, err := renderConfig(interlockdDoc(p))
	return b, "", err
}

// interlockdDoc is the configuration document for p.
func interlockdDoc(p interlockdParams) map[string]any {
	endpoint := map[string]any{
		"name":     "bench",
		"listen":   p.Listen,
		"labels":   map[string]string{"environment": "development"},
		"upstream": map[string]any{"address": p.Upstream, "sslmode": "disable"},
		"roles": []any{map[string]any{
			"group": benchGroup, "user": testenv.RoleAdmin, "password_file": p.PasswordFile,
		}},
	}
	doc := map[string]any{
		"endpoints": []any{endpoint},
		"identity":  map[string]any{"issuer": p.Issuer, "audience": p.Audience},
		"audit":     map[string]any{"path": p.AuditPath},
		"metrics":   map[string]any{"listen": "127.0.0.1:0"},
	}
	if p.PolicyData != nil {
		doc["policy"] = map[string]any{"data": p.PolicyData}
	}
	if len(p.Protect) > 0 {
		endpoint["protect"] = p.Protect
	}
	if p.Redirect != nil {
		doc["redirect"] = map[string]any{"enabled": true, "cgroup": p.Redirect.Cgroup, "pin_dir": p.Redirect.PinDir}
		doc["upstream_mark"] = config.DefaultUpstreamMark
	}
	// Everything else interlockd keeps goes next to the audit log, not in
	// the host's /run and /var/lib.
	state := filepath.Join(filepath.Dir(p.AuditPath), "state")
	doc["control"] = map[string]any{"socket": filepath.Join(state, "interlockd.sock"), "sessions_file": filepath.Join(state, "sessions.json")}
	doc["approvals"] = map[string]any{"store": map[string]any{"path": filepath.Join(state, "approvals.json")}}
	doc["tls"] = map[string]any{"ca_dir": filepath.Join(state, "ca")}
	return doc
}

func renderConfig(doc map[string]any) ([]byte, error) {
	b, err := yaml.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("render interlockd config: %w", err)
	}
	if _, err := config.Parse(b); err != nil {
		return nil, fmt.Errorf("check interlockd config: %w", err)
	}
	return b, nil
}

// mintBenchToken mints a token for the bench identity in groups, valid for ttl.
func mintBenchToken(iss *testenv.Issuer, subject string, groups []string, ttl time.Duration) (string, error) {
	tok, err := iss.Mint(testenv.MintOptions{
		Subject: subject, Email: subject + "@example.com", Groups: groups,
		Expiry: time.Now().Add(ttl),
	})
	if err != nil {
		return "", fmt.Errorf("mint %s token: %w", subject, err)
	}
	return tok, nil
}
