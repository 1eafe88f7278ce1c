package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/user"
	"strconv"
	"strings"

	"github.com/interlock-dev/interlock/daemon/alerts"
	"github.com/interlock-dev/interlock/daemon/control"
	"github.com/interlock-dev/interlock/redirect"
)

// startGuard feeds kernel events to the alert pipeline and attaches the
// guard. In enforce mode a guard that cannot be attached stops interlockd
// from starting (fail closed). stop detaches nothing: the pinned programs
// stay, like the redirect's.
func (d *Daemon) startGuard(ctx context.Context) (stop func(), err error) {
	ev, err := d.Redirect.Events()
	if err != nil {
		return nil, fmt.Errorf("kernel events: %w", err)
	}
	gctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = d.Alerts.Consume(gctx, ev)
	}()
	stop = func() {
		cancel()
		_ = ev.Close()
		<-done
		if d.Guard != nil {
			_ = d.Guard.Close()
		}
	}
	mode := redirect.GuardMode(d.cfg.Guard)
	if mode == redirect.GuardOff {
		return stop, nil
	}
	d.Guard, err = redirect.NewGuard(ctx, d.Redirect, redirect.GuardConfig{
		Mode: mode, Interfaces: d.cfg.GuardInterfaces,
		UnixSockets: d.cfg.UnixSockets, UnixAllowCgroups: d.cfg.UnixAllowCgroups,
		Logger: d.log,
	})
	if err != nil {
		stop()
		return nil, fmt.Errorf("attach the bypass guard (set guard: monitor to start without blocking): %w", err)
	}
	d.log.Info("bypass guard attached", "mode", mode)
	return stop, nil
}

// peerCreds gives the alerts handler the control-socket caller.
func peerCreds(r *http.Request) (alerts.Creds, bool) {
	p, ok := control.PeerOf(r)
	if !ok {
		return alerts.Creds{}, false
	}
	return alerts.Creds{UID: p.UID, GID: p.GID}, true
}

// groupIDs resolves the admin group's id.
func groupIDs(name string) ([]uint32, error) {
	if name == "" {
		return nil, nil
	}
	g, err := user.LookupGroup(name)
	if err != nil {
		return nil, fmt.Errorf("control.admin_group: %w", err)
	}
	id, err := strconv.ParseUint(g.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("control.admin_group %s: %w", name, err)
	}
	return []uint32{uint32(id)}, nil
}

// warnMissingCaps logs capabilities whose absence silently empties origin
// fields: CAP_SYS_PTRACE (other users' /proc/<pid>/exe) and
// CAP_DAC_READ_SEARCH (cgroup paths).
func warnMissingCaps(log *slog.Logger) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(b), "\n") {
		hexCaps, ok := strings.CutPrefix(line, "CapEff:")
		if !ok {
			continue
		}
		caps, err := strconv.ParseUint(strings.TrimSpace(hexCaps), 16, 64)
		if err != nil {
			return
		}
		for bit, name := range map[uint]string{2: "CAP_DAC_READ_SEARCH (origin cgroup paths)", 19: "CAP_SYS_PTRACE (origin executables of other users)"} {
			if caps&(1<<bit) == 0 {
				log.Warn("missing capability: origin fields will be empty", "capability", name)
			}
		}
	}
}
