package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/interlock-dev/interlock/testenv"
)

// installCommand installs every external tool the bench needs on Debian.
const installCommand = "apt-get install -y postgresql postgresql-contrib pgbouncer"

// errToolsMissing is wrapped by findTools when pgbench, pgbouncer or the
// PostgreSQL server binaries are missing.
var errToolsMissing = errors.New("missing tools; install them with: " + installCommand)

// tools are the executables the bench runs.
type tools struct {
	PGBinDir   string // initdb, pg_ctl, postgres
	Pgbench    string
	Pgbouncer  string // empty when no selected target needs it
	Interlockd string // empty when no selected target needs it
}

// findTools locates pgbench and, when needed, pgbouncer, and builds
// interlockd at interlockdPath when it is missing.
func findTools(ctx context.Context, root, interlockdPath string, needPgbouncer, needInterlockd bool, log *slog.Logger) (tools, error) {
	var t tools
	var missing []string
	bin, err := testenv.FindPostgres()
	if err != nil {
		missing = append(missing, "PostgreSQL server (initdb, pg_ctl, postgres)")
	}
	t.PGBinDir = bin
	// pgbench from the same major version as the server, else from PATH.
	if p := filepath.Join(bin, "pgbench"); bin != "" && isExecutable(p) {
		t.Pgbench = p
	} else if p, err := exec.LookPath("pgbench"); err == nil {
		t.Pgbench = p
	} else {
		missing = append(missing, "pgbench")
	}
	if needPgbouncer {
		if p, err := lookPath("pgbouncer", "/usr/sbin"); err == nil {
			t.Pgbouncer = p
		} else {
			missing = append(missing, "pgbouncer")
		}
	}
	if len(missing) > 0 {
		return t, fmt.Errorf("find %s: %w", strings.Join(missing, ", "), errToolsMissing)
	}
	if needInterlockd {
		p, err := ensureInterlockd(ctx, root, interlockdPath, log)
		if err != nil {
			return t, err
		}
		t.Interlockd = p
	}
	return t, nil
}

// ensureInterlockd builds interlockd when path does not exist: the default
// bin/interlockd with `go build -o bin/ ./cmd/...` like `make build`, any
// other path with `go build -o path ./cmd/interlockd`.
func ensureInterlockd(ctx context.Context, root, path string, log *slog.Logger) (string, error) {
	if !filepath.IsAbs(path) {
		path = filepath.Join(root, path)
	}
	if isExecutable(path) {
		return path, nil
	}
	args := []string{"build", "-o", path, "./cmd/interlockd"}
	if path == filepath.Join(root, "bin", "interlockd") {
		args = []string{"build", "-o", filepath.Join(root, "bin") + "/", "./cmd/..."}
	}
	log.Info("building interlockd", "cmd", "go "+strings.Join(args, " "))
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build interlockd: %w\n%s", err, out.String())
	}
	if !isExecutable(path) {
		return "", fmt.Errorf("build interlockd: %s was not produced", path)
	}
	return path, nil
}

// moduleRoot is the directory of the main module's go.mod, else the
// current directory.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err == nil {
		if gomod := strings.TrimSpace(string(out)); gomod != "" && gomod != os.DevNull {
			return filepath.Dir(gomod), nil
		}
	}
	wd, werr := os.Getwd()
	if werr != nil {
		return "", fmt.Errorf("find module root: %w", errors.Join(err, werr))
	}
	return wd, nil
}

func lookPath(name string, extraDirs ...string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, d := range extraDirs {
		if p := filepath.Join(d, name); isExecutable(p) {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found in PATH or %s", name, strings.Join(extraDirs, ", "))
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// toolVersion is the first line of `path --version`, for the report.
func toolVersion(ctx context.Context, path string) string {
	if path == "" {
		return ""
	}
	out, err := exec.CommandContext(ctx, path, "--version").CombinedOutput()
	if err != nil {
		return "unknown"
	}
	first, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return first
}
