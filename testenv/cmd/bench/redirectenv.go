package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/interlock-dev/interlock/redirect"
	"github.com/interlock-dev/interlock/testenv"
)

// bpffs is where the bench's pin directories go (a bpf filesystem).
const bpffs = "/sys/fs/bpf"

// pinDirPrefix names the bench's pin directories: interlock-bench-<pid>-<random>,
// so a later run can tell the leftovers of a bench that was killed.
const pinDirPrefix = "interlock-bench-"

// redirectEnv is what the redirect targets need: a test cgroup that
// interlockd's redirect attaches to (never the machine's root cgroup) and
// where pgbench runs, and a pin directory of its own. Close removes the
// programs, the pins and the cgroup.
type redirectEnv struct {
	cg     *testenv.Cgroup
	pinDir string
	log    *slog.Logger
	// guard switches the bypass guard; nil until openGuard.
	guard *guardSwitch
	// guardIfaces get the guard's tc program.
	guardIfaces []string
}

// newRedirectEnv creates the cgroup and the pin directory, after removing
// what killed benches left behind.
func newRedirectEnv(ctx context.Context, guardIfaces []string, log *slog.Logger) (_ *redirectEnv, err error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("the redirect targets (interlockd-redirect, interlockd-guard) need root (CAP_BPF, CAP_NET_ADMIN, CAP_SYS_ADMIN): run `sudo make bench`, or leave them out with -targets")
	}
	removeStalePins(ctx, log)
	e := &redirectEnv{log: log, guardIfaces: guardIfaces}
	defer func() {
		if err != nil {
			err = errors.Join(err, e.Close())
		}
	}()
	if e.cg, err = testenv.CreateCgroup(ctx); err != nil {
		return nil, fmt.Errorf("create bench cgroup (needs cgroup v2): %w", err)
	}
	if e.pinDir, err = os.MkdirTemp(bpffs, fmt.Sprintf("%s%d-", pinDirPrefix, os.Getpid())); err != nil {
		return nil, fmt.Errorf("make pin dir (needs a bpf filesystem at %s: mount -t bpf bpf %s): %w", bpffs, bpffs, err)
	}
	log.Info("redirect environment", "cgroup", e.cg.Path, "pin_dir", e.pinDir)
	return e, nil
}

// openGuard opens the guard switch on interlockd's pins; interlockd must
// have installed the redirect.
func (e *redirectEnv) openGuard(ctx context.Context) error {
	if e.guard != nil {
		return nil
	}
	g, err := openGuardSwitch(ctx, e.cg.Path, e.pinDir, e.guardIfaces, e.log)
	if err != nil {
		return err
	}
	e.guard = g
	return nil
}

// checkNoGuard fails when a guard is attached (interlockd attached its own).
func (e *redirectEnv) checkNoGuard() error {
	if pins := guardPins(e.pinDir); len(pins) > 0 {
		return fmt.Errorf("a guard is attached in %s (%s)", e.pinDir, strings.Join(pins, ", "))
	}
	return nil
}

// Close detaches and unpins everything (the guard first) and removes the
// cgroup, killing what is left in it. Stop interlockd first. Safe to call
// twice.
func (e *redirectEnv) Close() error {
	var errs []error
	if e.guard != nil {
		errs = append(errs, e.guard.Close())
		e.guard = nil
	}
	if e.pinDir != "" {
		// Not the caller's context: this must also run after Ctrl-C.
		if err := redirect.Uninstall(context.Background(), e.pinDir); err != nil {
			errs = append(errs, fmt.Errorf("uninstall redirect: %w", err))
		}
		if err := os.RemoveAll(e.pinDir); err != nil {
			errs = append(errs, fmt.Errorf("remove pin dir: %w", err))
		}
		e.pinDir = ""
	}
	if e.cg != nil {
		if err := e.cg.Close(); err != nil {
			errs = append(errs, fmt.Errorf("remove bench cgroup: %w", err))
		}
		e.cg = nil
	}
	return errors.Join(errs...)
}

// guardPins lists the guard's pinned links in pinDir.
func guardPins(pinDir string) []string {
	var out []string
	for _, pattern := range []string{"link_guard_*", "link_tcx_*"} {
		m, _ := filepath.Glob(filepath.Join(pinDir, pattern))
		for _, p := range m {
			out = append(out, filepath.Base(p))
		}
	}
	return out
}

// removeStalePins uninstalls the pin directories of benches that are no
// longer running (killed before they could clean up): their programs would
// otherwise keep redirecting, and a guard's tc program keep filtering lo.
func removeStalePins(ctx context.Context, log *slog.Logger) {
	dirs, _ := filepath.Glob(filepath.Join(bpffs, pinDirPrefix+"*"))
	for _, dir := range dirs {
		pid, ok := pinDirPID(filepath.Base(dir))
		if !ok || processRunning(pid) {
			continue
		}
		err := redirect.Uninstall(ctx, dir)
		if err == nil {
			err = os.RemoveAll(dir)
		}
		log.Warn("removed the pins of a bench that did not clean up", "dir", dir, "err", err)
	}
}

// pinDirPID is the pid in a pin directory's name.
func pinDirPID(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, pinDirPrefix)
	if !ok {
		return 0, false
	}
	pidS, _, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, false
	}
	pid, err := strconv.Atoi(pidS)
	return pid, err == nil && pid > 0
}

// processRunning reports whether pid exists (a pid that was reused counts
// as running: its pins are left alone).
func processRunning(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
