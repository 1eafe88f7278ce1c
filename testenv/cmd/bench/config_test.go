package main

import (
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/interlock-dev/interlock/daemon/config"
)

// TestInterlockdConfig: the rendered YAML passes interlockd's strict
// parser and says what the bench relies on.
func TestInterlockdConfig(t *testing.T) {
	base := interlockdParams{
		Listen: "127.0.0.1:40001", Upstream: "127.0.0.1:40002", PasswordFile: "/tmp/x/admin.pw",
		Issuer: "http://127.0.0.1:40003", Audience: "interlock", AuditPath: "/tmp/x/audit.jsonl",
		PolicyData: widePolicyData(),
	}
	b, guardKey, err := interlockdConfig(base)
	if err != nil {
		t.Fatal(err)
	}
	if guardKey != "" {
		t.Errorf("guard setting %q without the redirect", guardKey)
	}
	cfg, err := config.Parse(b)
	if err != nil {
		t.Fatalf("parse rendered config: %v\n%s", err, b)
	}
	e := cfg.Endpoints[0]
	if e.Listen != "127.0.0.1:40001" || e.Upstream.Address != "127.0.0.1:40002" || e.Upstream.SSLMode != "disable" {
		t.Errorf("endpoint = %+v", e)
	}
	if e.Labels["environment"] != "development" {
		t.Errorf("labels = %v, want environment: development", e.Labels)
	}
	if len(e.Roles) != 1 || e.Roles[0].Group != benchGroup || e.Roles[0].User != "interlock_admin" || e.Roles[0].PasswordFile != "/tmp/x/admin.pw" {
		t.Errorf("roles = %+v", e.Roles)
	}
	if cfg.Identity.Issuer != "http://127.0.0.1:40003" || cfg.Audit.Path != "/tmp/x/audit.jsonl" {
		t.Errorf("identity/audit = %+v / %+v", cfg.Identity, cfg.Audit)
	}
	if cfg.Redirect.Enabled || len(e.Protect) != 0 {
		t.Errorf("redirect = %+v, protect = %v without redirect params", cfg.Redirect, e.Protect)
	}
	cols, _ := cfg.Policy.Data["columns"].(map[string]any)
	if len(cols) != 3 || cols["public.wide.c3"] == nil {
		t.Errorf("policy data columns = %v, want the 3 masked columns of public.wide", cfg.Policy.Data)
	}
	if _, _, err := interlockdConfig(interlockdParams{Listen: "nowhere"}); err == nil {
		t.Error("interlockdConfig with a bad listen address and no issuer: got nil error")
	}

	t.Run("redirect", func(t *testing.T) {
		p := base
		p.Protect = []string{"127.0.0.1:40002"}
		p.Redirect = &redirectParams{Cgroup: "/sys/fs/cgroup/unified/interlock-test-1", PinDir: "/sys/fs/bpf/interlock-bench-1-2"}
		b, guardKey, err := interlockdConfig(p)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := config.Parse(b)
		if err != nil {
			t.Fatalf("parse rendered config: %v\n%s", err, b)
		}
		r := cfg.Redirect
		if !r.Enabled || r.Cgroup != p.Redirect.Cgroup || r.PinDir != p.Redirect.PinDir {
			t.Errorf("redirect = %+v, want enabled at %s, pins in %s", r, p.Redirect.Cgroup, p.Redirect.PinDir)
		}
		if !slices.Equal(cfg.Endpoints[0].Protect, p.Protect) || cfg.UpstreamMark != config.DefaultUpstreamMark {
			t.Errorf("protect = %v, upstream_mark = %#x", cfg.Endpoints[0].Protect, cfg.UpstreamMark)
		}
		// interlockd's own guard is off when its configuration has a guard
		// setting; when none of the known places parses, there is none.
		if guardKey == "" {
			for _, g := range guardOffSettings {
				doc := interlockdDoc(p)
				g.Set(doc)
				if _, err := renderConfig(doc); err == nil {
					t.Errorf("interlockd accepts %q, but the config was rendered without it", g.Key)
				}
			}
		} else if !strings.Contains(string(b), "guard") {
			t.Errorf("guard setting %q is not in the rendered config:\n%s", guardKey, b)
		}
	})
}

func TestPgbouncerFiles(t *testing.T) {
	ini := pgbouncerIni("interlock", "127.0.0.1", 5432, 6432, "/tmp/b/userlist.txt")
	for _, want := range []string{
		"interlock = host=127.0.0.1 port=5432 dbname=interlock\n",
		"listen_port = 6432\n", "pool_mode = session\n", "auth_type = scram-sha-256\n",
		"auth_file = /tmp/b/userlist.txt\n",
	} {
		if !strings.Contains(ini, want) {
			t.Errorf("pgbouncer.ini lacks %q:\n%s", want, ini)
		}
	}
	if got, want := pgbouncerUserlist("interlock_admin", `pa"ss`), `"interlock_admin" "pa""ss"`+"\n"; got != want {
		t.Errorf("userlist = %q, want %q", got, want)
	}
}

func TestParseFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr bool
		check   func(t *testing.T, o options)
	}{
		{name: "defaults", check: func(t *testing.T, o options) {
			if o.Rounds < 5 || o.Retries != 1 || o.Duration != 10*time.Second || o.Out != "bench-results.md" || o.SkipGo {
				t.Errorf("defaults = %+v", o)
			}
			if !slices.Equal(o.Workloads, []string{"select-simple", "select-prepared", "select-latency", "wide", "connect", "guard-bulk"}) {
				t.Errorf("default workloads = %v", o.Workloads)
			}
			if !slices.Equal(o.Targets, []string{"direct", "pgbouncer", "interlockd", "interlockd-nomask", "interlockd-redirect", "interlockd-guard", "go-relay"}) {
				t.Errorf("default targets = %v", o.Targets)
			}
			if !slices.Equal(o.GuardInterfaces, []string{"lo"}) {
				t.Errorf("default guard interfaces = %v, want [lo]", o.GuardInterfaces)
			}
		}},
		{name: "lists", args: []string{"-workloads", " select-latency, select-connect ", "-targets", "interlockd,direct", "-skip-go", "-rounds", "2", "-duration", "3s"},
			check: func(t *testing.T, o options) {
				if !slices.Equal(o.Workloads, []string{"select-latency", "select-connect"}) || !slices.Equal(o.Targets, []string{"interlockd", "direct"}) {
					t.Errorf("lists = %v / %v", o.Workloads, o.Targets)
				}
				if !o.SkipGo || o.Rounds != 2 || o.Duration != 3*time.Second {
					t.Errorf("options = %+v", o)
				}
			}},
		{name: "no guard interfaces", args: []string{"-guard-interfaces", ""}, check: func(t *testing.T, o options) {
			if o.GuardInterfaces == nil || len(o.GuardInterfaces) != 0 {
				t.Errorf("guard interfaces = %#v, want empty, not nil (nil is every interface)", o.GuardInterfaces)
			}
		}},
		{name: "no workloads means Go benchmarks only", args: []string{"-workloads", ""}, check: func(t *testing.T, o options) {
			if len(o.Workloads) != 0 {
				t.Errorf("workloads = %v, want none", o.Workloads)
			}
		}},
		{name: "unknown workload", args: []string{"-workloads", "select-everything"}, wantErr: true},
		{name: "unknown target", args: []string{"-targets", "odyssey"}, wantErr: true},
		{name: "zero rounds", args: []string{"-rounds", "0"}, wantErr: true},
		{name: "negative retries", args: []string{"-retries", "-1"}, wantErr: true},
		{name: "retries", args: []string{"-retries", "0"}, check: func(t *testing.T, o options) {
			if o.Retries != 0 {
				t.Errorf("retries = %d, want 0", o.Retries)
			}
		}},
		{name: "sub-second duration", args: []string{"-duration", "500ms"}, wantErr: true},
		{name: "no targets", args: []string{"-targets", ""}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := parseFlags(tt.args, io.Discard)
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseFlags(%q): err = %v, wantErr %v", tt.args, err, tt.wantErr)
			}
			if tt.check != nil {
				tt.check(t, o)
			}
		})
	}
}

func TestSelectTargetsKeepsTableOrder(t *testing.T) {
	specs, err := selectTargets([]string{"interlockd", "direct"})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range specs {
		names = append(names, s.Name)
	}
	if !slices.Equal(names, []string{"direct", "interlockd"}) {
		t.Errorf("selectTargets = %v, want table order [direct interlockd]", names)
	}
}

func TestParseFlagsTargetsGiven(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want bool
	}{
		{nil, false},
		{[]string{"-rounds", "2"}, false},
		{[]string{"-targets", "direct"}, true},
	} {
		o, err := parseFlags(tt.args, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if o.TargetsGiven != tt.want {
			t.Errorf("parseFlags(%q).TargetsGiven = %v, want %v", tt.args, o.TargetsGiven, tt.want)
		}
	}
}
