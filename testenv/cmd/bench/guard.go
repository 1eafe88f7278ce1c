package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"strings"
	"time"

	"github.com/interlock-dev/interlock/daemon/config"
	"github.com/interlock-dev/interlock/redirect"
)

// guardSwitch attaches and detaches the bypass guard on interlockd's
// redirect: the same cgroup, pins, endpoint map and daemon mark, so a run
// with the guard and a run without it differ only by the guard's programs.
// It holds its own Redirector on interlockd's pins (redirect.New swaps
// identical programs into the pinned links; the maps are shared).
type guardSwitch struct {
	r      *redirect.Redirector
	g      *redirect.Guard
	pinDir string
	ifaces []string
	log    *slog.Logger
	// AttachTime is how long the last On took.
	AttachTime time.Duration
}

func openGuardSwitch(ctx context.Context, cgroupPath, pinDir string, ifaces []string, log *slog.Logger) (*guardSwitch, error) {
	r, err := redirect.New(ctx, redirect.Config{
		CgroupPath: cgroupPath, PinDir: pinDir, Mark: config.DefaultUpstreamMark, Logger: log,
	})
	if err != nil {
		return nil, fmt.Errorf("open redirect for the guard: %w", err)
	}
	return &guardSwitch{r: r, pinDir: pinDir, ifaces: ifaces, log: log}, nil
}

// On attaches the guard in enforce mode.
func (s *guardSwitch) On(ctx context.Context) error {
	if s.g != nil {
		return nil
	}
	began := time.Now()
	g, err := redirect.NewGuard(ctx, s.r, redirect.GuardConfig{
		Mode: redirect.GuardEnforce, Interfaces: append([]string{}, s.ifaces...), Logger: s.log,
	})
	if err != nil {
		return fmt.Errorf("attach guard: %w", err)
	}
	s.g, s.AttachTime = g, time.Since(began)
	return nil
}

// Off detaches and unpins the guard and checks that nothing of it is left.
func (s *guardSwitch) Off() error {
	if s.g == nil {
		return nil
	}
	err := s.g.Close()
	s.g = nil
	// Not the run's context: this must also run after Ctrl-C.
	off, oerr := redirect.NewGuard(context.Background(), s.r, redirect.GuardConfig{Mode: redirect.GuardOff, Logger: s.log})
	if oerr == nil {
		oerr = off.Close()
	}
	if err := errors.Join(err, oerr); err != nil {
		return fmt.Errorf("detach guard: %w", err)
	}
	if pins := guardPins(s.pinDir); len(pins) > 0 {
		return fmt.Errorf("detach guard: still pinned: %s", strings.Join(pins, ", "))
	}
	return nil
}

// Close detaches the guard and releases the Redirector (which detaches
// nothing; redirect.Uninstall removes the redirect). Safe to call twice.
func (s *guardSwitch) Close() error {
	if s.r == nil {
		return nil
	}
	err := errors.Join(s.Off(), s.r.Close())
	s.r = nil
	return err
}

// startRedirect: pgbench runs in the redirect's cgroup and connects to
// PostgreSQL's own address with the bench token; the kernel sends it to
// interlockd, which sees where it came from.
func startRedirect(ctx context.Context, st *stack) (*target, error) {
	if st.redirect == nil {
		return nil, errors.New("no redirect environment")
	}
	t, err := startInterlockd(ctx, st)
	if err != nil {
		return nil, err
	}
	t.Name, t.Host, t.Port = targetRedirect, st.pg.Host, st.pg.Port
	cg := st.redirect.cg
	t.Prepare = func(cmd *exec.Cmd) error { cg.Apply(cmd); return nil }
	if err := probeRedirect(ctx, st, t); err != nil {
		return nil, err
	}
	return t, nil
}

// startGuard is startRedirect with the guard attached around each run.
func startGuard(ctx context.Context, st *stack) (*target, error) {
	t, err := startRedirect(ctx, st)
	if err != nil {
		return nil, err
	}
	if err := st.redirect.openGuard(ctx); err != nil {
		return nil, err
	}
	g := st.redirect.guard
	t.Name = targetGuard
	t.Begin, t.End = g.On, g.Off
	// Once now, so a guard that cannot attach fails the start, not every run.
	if err := g.On(ctx); err != nil {
		return nil, err
	}
	st.log.Info("guard attaches", "took", g.AttachTime.Round(time.Millisecond), "interfaces", st.redirect.guardIfaces)
	if err := g.Off(); err != nil {
		return nil, err
	}
	return t, nil
}
