package daemon

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"syscall"

	"github.com/interlock-dev/interlock/daemon/config"
	"github.com/interlock-dev/interlock/redirect"
)

// reloadOnSIGHUP rereads the configuration (when it came from a file) and
// the policy on SIGHUP.
func (d *Daemon) reloadOnSIGHUP(ctx context.Context, path string) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGHUP)
	defer signal.Stop(ch)
	for {
		select {
		case <-ctx.Done():
			return
		case <-ch:
		}
		if path != "" {
			cfg, err := config.Load(path)
			if err != nil {
				d.log.Error("configuration reload on SIGHUP failed; keeping the running configuration", "err", err)
			} else if err := d.Reload(ctx, cfg); err != nil {
				d.log.Error("configuration reload on SIGHUP", "err", err)
			} else {
				d.log.Info("configuration reloaded on SIGHUP")
			}
		}
		if err := d.Policy.Reload(ctx); err != nil {
			d.log.Error("policy reload on SIGHUP failed; keeping the last good policy", "err", err)
		} else {
			d.log.Info("policy reloaded on SIGHUP")
		}
	}
}

// Reload applies what can change without a restart: the protected
// addresses of existing endpoints (live in the kernel map), the guard's
// mode and unix sockets, and the policy data. Anything else needs a
// restart and is reported as such. Reload is not safe for concurrent use.
func (d *Daemon) Reload(ctx context.Context, cfg *config.Config) error {
	var errs []error
	byName := map[string]config.Endpoint{}
	for _, e := range cfg.Endpoints {
		byName[e.Name] = e
	}
	changed := false
	for i, e := range d.cfg.Endpoints {
		n, ok := byName[e.Name]
		if !ok {
			errs = append(errs, fmt.Errorf("endpoint %s was removed: restart interlockd to apply", e.Name))
			continue
		}
		if !slices.Equal(n.Protect, e.Protect) {
			d.cfg.Endpoints[i].Protect = n.Protect
			changed = true
		}
		delete(byName, e.Name)
	}
	for name := range byName {
		errs = append(errs, fmt.Errorf("endpoint %s is new: restart interlockd to serve it", name))
	}
	if changed {
		if d.Redirect == nil {
			errs = append(errs, errors.New("protected addresses changed but the redirect is not enabled"))
		} else if err := d.Redirect.SetEndpoints(ctx, d.redirectEndpoints()); err != nil {
			errs = append(errs, fmt.Errorf("set protected endpoints: %w", err))
		} else {
			d.log.Info("protected endpoints updated", "endpoints", len(d.redirectEndpoints()))
		}
	}
	if d.Guard != nil {
		if cfg.Guard != d.cfg.Guard {
			if err := d.Guard.SetMode(ctx, redirect.GuardMode(cfg.Guard)); err != nil {
				errs = append(errs, fmt.Errorf("guard mode: %w", err))
			} else {
				d.cfg.Guard = cfg.Guard
			}
		}
		if !slices.Equal(cfg.UnixSockets, d.cfg.UnixSockets) || !slices.Equal(cfg.UnixAllowCgroups, d.cfg.UnixAllowCgroups) {
			if err := d.Guard.SetUnixSockets(ctx, cfg.UnixSockets, cfg.UnixAllowCgroups); err != nil {
				errs = append(errs, fmt.Errorf("guard unix sockets: %w", err))
			} else {
				d.cfg.UnixSockets, d.cfg.UnixAllowCgroups = cfg.UnixSockets, cfg.UnixAllowCgroups
			}
		}
	}
	if err := d.Policy.SetData(ctx, cfg.Policy.Data); err != nil {
		errs = append(errs, fmt.Errorf("policy data: %w", err))
	}
	return errors.Join(errs...)
}
