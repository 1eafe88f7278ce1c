package deploy

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/interlock-dev/interlock/daemon/config"
)

const (
	unitPath       = "systemd/interlockd.service"
	unitBinary     = "/usr/local/bin/interlockd"
	unitConfigPath = "/etc/interlock/interlockd.yaml"
)

// unitFile is a parsed systemd unit: section → key → values in order (a
// key may repeat).
type unitFile map[string]map[string][]string

// parseUnit reads the key=value sections of a unit file, with systemd's
// comments and backslash continuations. It fails on anything else.
func parseUnit(tb testing.TB, b []byte) unitFile {
	tb.Helper()
	u := unitFile{}
	section := ""
	sc := bufio.NewScanner(bytes.NewReader(b))
	n, pending := 0, ""
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if pending != "" {
			line = pending + " " + line
			pending = ""
		}
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if strings.HasSuffix(line, `\`) {
			pending = strings.TrimSuffix(line, `\`)
			continue
		}
		if strings.HasPrefix(line, "[") {
			if !strings.HasSuffix(line, "]") {
				tb.Fatalf("%s:%d: bad section header %q", unitPath, n, line)
			}
			section = line[1 : len(line)-1]
			if u[section] == nil {
				u[section] = map[string][]string{}
			}
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || section == "" {
			tb.Fatalf("%s:%d: not key=value inside a section: %q", unitPath, n, line)
		}
		k = strings.TrimSpace(k)
		u[section][k] = append(u[section][k], strings.TrimSpace(v))
	}
	if pending != "" {
		tb.Fatalf("%s: file ends in a continuation", unitPath)
	}
	return u
}

// one returns the single value of key, failing if it is missing or repeated.
func (u unitFile) one(tb testing.TB, section, key string) string {
	tb.Helper()
	vs := u[section][key]
	if len(vs) != 1 {
		tb.Fatalf("[%s] %s: got %d values %q, want exactly one", section, key, len(vs), vs)
	}
	return vs[0]
}

// words returns every space-separated word of every value of key.
func (u unitFile) words(section, key string) []string {
	var out []string
	for _, v := range u[section][key] {
		out = append(out, strings.Fields(v)...)
	}
	return out
}

func loadUnit(tb testing.TB) unitFile {
	return parseUnit(tb, readFile(tb, unitPath))
}

func TestSystemdUnitSettings(t *testing.T) {
	u := loadUnit(t)
	for _, s := range []string{"Unit", "Service", "Install"} {
		if u[s] == nil {
			t.Fatalf("section [%s] is missing", s)
		}
	}
	exact := []struct{ section, key, want string }{
		// interlockd has no sd_notify: "exec" waits for the execve only.
		{"Service", "Type", "exec"},
		{"Service", "ExecStart", unitBinary + " -config " + unitConfigPath},
		{"Service", "ExecReload", "/bin/kill -HUP $MAINPID"},
		{"Service", "Restart", "always"},
		{"Service", "KillSignal", "SIGTERM"},
		{"Service", "RuntimeDirectory", "interlock"},
		{"Service", "RuntimeDirectoryMode", "0755"}, // every user reaches the control socket
		{"Service", "StateDirectory", "interlock"},
		{"Service", "StateDirectoryMode", "0700"},
		{"Service", "LogsDirectory", "interlock"},
		{"Service", "LogsDirectoryMode", "0700"},
		{"Service", "ProtectSystem", "strict"},
		{"Service", "ProtectHome", "yes"},
		{"Service", "PrivateTmp", "yes"},
		{"Service", "NoNewPrivileges", "yes"},
		{"Service", "LockPersonality", "yes"},
		{"Service", "MemoryDenyWriteExecute", "yes"},
		{"Service", "ProtectControlGroups", "yes"},
		{"Service", "ProtectKernelTunables", "yes"},
		{"Unit", "StartLimitIntervalSec", "0"},
		{"Install", "WantedBy", "multi-user.target"},
	}
	for _, c := range exact {
		if got := u.one(t, c.section, c.key); got != c.want {
			t.Errorf("[%s] %s = %q, want %q", c.section, c.key, got, c.want)
		}
	}

	var caps []string
	for _, c := range u.words("Service", "CapabilityBoundingSet") {
		caps = append(caps, strings.TrimPrefix(c, "CAP_"))
	}
	if got, want := sorted(caps), capabilities; !slices.Equal(got, want) {
		t.Errorf("CapabilityBoundingSet = %v, want exactly %v", got, want)
	}
	if a := u.words("Service", "AmbientCapabilities"); len(a) > 0 {
		t.Errorf("AmbientCapabilities = %v: interlockd runs as root, the bounding set is its capability set", a)
	}
	if got, want := sorted(u.words("Service", "RestrictAddressFamilies")), []string{"AF_INET", "AF_INET6", "AF_NETLINK", "AF_UNIX"}; !slices.Equal(got, want) {
		t.Errorf("RestrictAddressFamilies = %v, want %v", got, want)
	}
	filter := u.words("Service", "SystemCallFilter")
	for _, want := range []string{"@system-service", "bpf", "open_by_handle_at"} {
		if !slices.Contains(filter, want) {
			t.Errorf("SystemCallFilter %v lacks %s", filter, want)
		}
	}
	for _, k := range []string{"ProtectProc", "ProcSubset", "User", "DynamicUser", "PrivateNetwork", "PrivateUsers"} {
		if v := u["Service"][k]; v != nil {
			t.Errorf("[Service] %s = %q: it would hide the processes, network or privileges interlockd works with", k, v)
		}
	}
}

// TestSystemdStopCoversDrain: systemd must not SIGKILL interlockd while it
// drains sessions and seals the audit log.
func TestSystemdStopCoversDrain(t *testing.T) {
	u := loadUnit(t)
	stop, err := time.ParseDuration(u.one(t, "Service", "TimeoutStopSec"))
	if err != nil {
		t.Fatalf("TimeoutStopSec: %v (write it as a Go duration, e.g. 45s)", err)
	}
	cfg := mustParseConfig(t, "deploy/interlockd.yaml", readFile(t, "interlockd.yaml"))
	drain := max(cfg.Limits.DrainTimeout, config.DefaultDrainTimeout)
	if stop < drain+10*time.Second {
		t.Errorf("TimeoutStopSec = %s, want at least the drain timeout (%s) + 10s to seal the audit log", stop, drain)
	}
}

// TestSystemdUnitWritablePaths: under ProtectSystem=strict every directory
// the documented configuration writes must be one the unit makes writable.
func TestSystemdUnitWritablePaths(t *testing.T) {
	u := loadUnit(t)
	writable := u.words("Service", "ReadWritePaths")
	for _, k := range []string{"RuntimeDirectory", "StateDirectory", "LogsDirectory"} {
		base := map[string]string{"RuntimeDirectory": "/run", "StateDirectory": "/var/lib", "LogsDirectory": "/var/log"}[k]
		for _, d := range u.words("Service", k) {
			writable = append(writable, filepath.Join(base, d))
		}
	}
	cfg := mustParseConfig(t, "deploy/interlockd.yaml", readFile(t, "interlockd.yaml"))
	for _, p := range configPaths(cfg) {
		if !p.writable {
			continue
		}
		if !slices.ContainsFunc(writable, func(w string) bool { return under(p.path, w) }) {
			t.Errorf("%s: interlockd writes %s, which the unit leaves read-only (writable: %v)", p.field, p.path, writable)
		}
	}
}

// TestSystemdAnalyze runs systemd's own checks on the unit: verify (every
// directive known and well-formed) and the offline security score.
func TestSystemdAnalyze(t *testing.T) {
	bin, err := exec.LookPath("systemd-analyze")
	if err != nil {
		if testing.Short() {
			t.Skip("systemd-analyze not installed (-short)")
		}
		t.Fatal("systemd-analyze is needed to verify deploy/systemd/interlockd.service: apt-get install -y systemd")
	}
	dir := t.TempDir()
	// verify insists that the binaries exist: point them at a stub.
	stub := filepath.Join(dir, "interlockd")
	if err := os.WriteFile(stub, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	unit := strings.ReplaceAll(string(readFile(t, unitPath)), unitBinary, stub)
	path := filepath.Join(dir, "interlockd.service")
	if err := os.WriteFile(path, []byte(unit), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "verify", path).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	// Exposure is printed as 0.0-10.0; --threshold counts tenths.
	const threshold = 30
	out, err = exec.Command(bin, "security", "--offline=yes", fmt.Sprintf("--threshold=%d", threshold), path).CombinedOutput()
	if err != nil {
		t.Errorf("systemd-analyze security: exposure above %.1f (%v):\n%s", float64(threshold)/10, err, lastLines(out, 3))
	}
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
