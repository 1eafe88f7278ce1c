package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const valid = `
endpoints:
  - name: prod
    labels: {environment: production}
    upstream:
      address: 10.0.0.5:5432
    roles:
      - {group: admins, user: admin, password_env: ADMIN_PW}
      - {group: readers, user: ro, password_file: /etc/interlock/ro.pw}
identity:
  issuer: https://id.example.com
  audience: interlock
audit:
  path: /var/log/interlock/audit.jsonl
`

func TestParseValidFillsDefaults(t *testing.T) {
	c, err := Parse([]byte(valid))
	if err != nil {
		t.Fatal(err)
	}
	e := c.Endpoints[0]
	if e.Listen != DefaultListen || e.Upstream.SSLMode != "prefer" || e.Upstream.ConnectTimeout != DefaultConnectTimeout {
		t.Fatalf("endpoint defaults not filled: %+v", e)
	}
	if c.Identity.GroupsClaim != "groups" || c.Limits.MaxMessageSize != 64<<20 || c.Audit.MaxStatementBytes != 4096 || !*c.Policy.Watch || !*c.Limits.AdaptiveCPUs {
		t.Fatalf("defaults not filled: %+v", c)
	}
	if e.CatalogRole().User != "admin" {
		t.Fatalf("catalog role %q, want the first role", e.CatalogRole().User)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, doc, want string
	}{
		{"unknown field names its line", strings.Replace(valid, "  audience: interlock", "  audience: interlock\n  audiance: typo", 1), "[13:3] unknown field \"audiance\""},
		{"wrong type names its line", strings.Replace(valid, "path: /var/log/interlock/audit.jsonl", "path: [1, 2]", 1), "[14:9] cannot unmarshal"},
		{"missing issuer", strings.Replace(valid, "  issuer: https://id.example.com\n", "", 1), "identity.issuer: required"},
		{"no audit path", strings.Replace(valid, "audit:\n  path: /var/log/interlock/audit.jsonl\n", "", 1), "audit.path: required"},
		{"bad listen", strings.Replace(valid, "  - name: prod\n", "  - name: prod\n    listen: localhost\n", 1), "endpoints[0].listen"},
		{"symmetric algorithm", strings.Replace(valid, "  audience: interlock\n", "  audience: interlock\n  algorithms: [HS256]\n", 1), "HS256 is not allowed"},
		{"both password sources", strings.Replace(valid, "password_env: ADMIN_PW", "password_env: ADMIN_PW, password_file: /x", 1), "not both"},
		{"bad sslmode", strings.Replace(valid, "address: 10.0.0.5:5432", "address: 10.0.0.5:5432\n      sslmode: maybe", 1), "unknown mode"},
		{"catalog user not a role", strings.Replace(valid, "  - name: prod\n", "  - name: prod\n    catalog_user: nobody\n", 1), "catalog_user"},
		{"duplicate key", valid + "audit:\n  path: /x\n", "already defined"},
		{"negative cpus", valid + "limits:\n  cpus: -1\n", "limits.cpus: must not be negative"},
		{"negative writeback interval", strings.Replace(valid, "path: /var/log/interlock/audit.jsonl", "path: /var/log/interlock/audit.jsonl\n  writeback_interval: -1s", 1), "audit.writeback_interval: must not be negative"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.doc))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want error containing %q", err, tc.want)
			}
		})
	}
}

func TestRolePassword(t *testing.T) {
	f := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(f, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if pw, err := (Role{User: "u", PasswordFile: f}).Password(); err != nil || pw != "s3cret" {
		t.Fatalf("file password %q %v", pw, err)
	}
	t.Setenv("INTERLOCK_TEST_PW", "envpw")
	if pw, err := (Role{User: "u", PasswordEnv: "INTERLOCK_TEST_PW"}).Password(); err != nil || pw != "envpw" {
		t.Fatalf("env password %q %v", pw, err)
	}
	if _, err := (Role{User: "u", PasswordEnv: "INTERLOCK_TEST_UNSET_PW"}).Password(); err == nil {
		t.Fatal("unset environment variable gave no error")
	}
	if _, err := (Role{User: "u", PasswordFile: "/nonexistent"}).Password(); err == nil {
		t.Fatal("missing file gave no error")
	}
}

// TestShippedExample keeps deploy/interlockd.yaml valid.
func TestShippedExample(t *testing.T) {
	c, err := Load("../../deploy/interlockd.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Endpoints) != 1 || len(c.Endpoints[0].Protect) != 2 || !c.Redirect.Enabled {
		t.Fatalf("example parsed to %+v", c)
	}
}
