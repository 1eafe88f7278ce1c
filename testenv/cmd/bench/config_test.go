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
	b, err := interlockdConfig(interlockdParams{
		Listen: "127.0.0.1:40001", Upstream: "127.0.0.1:40002", PasswordFile: "/tmp/x/admin.pw",
		Issuer: "http://127.0.0.1:40003", Audience: "interlock", AuditPath: "/tmp/x/audit.jsonl",
	})
	if err != nil {
		t.Fatal(err)
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
	if _, err := interlockdConfig(interlockdParams{Listen: "nowhere"}); err == nil {
		t.Error("interlockdConfig with a bad listen address and no issuer: got nil error")
	}
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
			if o.Rounds < 5 || o.Duration != 10*time.Second || o.Out != "bench-results.md" || o.SkipGo {
				t.Errorf("defaults = %+v", o)
			}
			if !slices.Equal(o.Workloads, []string{"select-simple", "select-prepared", "select-latency"}) {
				t.Errorf("default workloads = %v", o.Workloads)
			}
			if !slices.Equal(o.Targets, []string{"direct", "pgbouncer", "interlockd"}) {
				t.Errorf("default targets = %v", o.Targets)
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
		{name: "no workloads means Go benchmarks only", args: []string{"-workloads", ""}, check: func(t *testing.T, o options) {
			if len(o.Workloads) != 0 {
				t.Errorf("workloads = %v, want none", o.Workloads)
			}
		}},
		{name: "unknown workload", args: []string{"-workloads", "select-everything"}, wantErr: true},
		{name: "unknown target", args: []string{"-targets", "odyssey"}, wantErr: true},
		{name: "zero rounds", args: []string{"-rounds", "0"}, wantErr: true},
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
