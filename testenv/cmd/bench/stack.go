package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"time"

	"github.com/interlock-dev/interlock/testenv"
)

// stack is everything the pgbench runs need: the cluster, the issuer and
// the targets, with one temporary directory for configs, logs and pgbench
// per-transaction logs. Close tears it down in reverse order.
type stack struct {
	dir    string
	pg     *testenv.Postgres
	issuer *testenv.Issuer
	// token is the bench identity's (group admins); tokenPII's groups
	// include pii-readers.
	token, tokenPII string
	tools           tools
	log             *slog.Logger
	targets         []*target
	// setups holds what each workload's Setup measured.
	setups map[string]setupResult
	// ild is the shared interlockd, listening on ildPort; nil until a
	// target needs it.
	ild     *child
	ildPort uint16
	// redirect is the cgroup and pin dir of the redirect targets; nil
	// when none is selected.
	redirect *redirectEnv
	// notes are remarks for the report.
	notes  []string
	closed bool
}

// stackOptions configure startStack.
type stackOptions struct {
	Tools   tools
	Targets []targetSpec
	// Workloads are set up (tables, data) before the targets start.
	Workloads []workload
	// TokenTTL is how long the interlockd token stays valid.
	TokenTTL time.Duration
	// GuardInterfaces get the guard's tc program (interlockd-guard).
	GuardInterfaces []string
	Logger          *slog.Logger
}

// startStack starts PostgreSQL, loads the pgbench tables, starts the
// issuer and every target. On error nothing is left behind.
func startStack(ctx context.Context, o stackOptions) (_ *stack, err error) {
	st := &stack{tools: o.Tools, log: o.Logger, setups: map[string]setupResult{}}
	defer func() {
		if err != nil {
			err = errors.Join(err, st.Close())
		}
	}()
	if st.dir, err = os.MkdirTemp("", "interlock-bench-"); err != nil {
		return nil, fmt.Errorf("make bench dir: %w", err)
	}
	// The postgres OS user must traverse it to reach pgbouncer's subdir.
	if err := os.Chmod(st.dir, 0o711); err != nil {
		return nil, fmt.Errorf("chmod bench dir: %w", err)
	}
	began := time.Now()
	st.pg, err = testenv.StartPostgres(ctx, testenv.PostgresOptions{
		StandardRoles: true,
		BinDir:        o.Tools.PGBinDir,
		Logger:        o.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	if err := st.initPgbench(ctx); err != nil {
		return nil, err
	}
	for _, w := range o.Workloads {
		if w.Setup == nil {
			continue
		}
		res, err := w.Setup(ctx, st)
		if err != nil {
			return nil, fmt.Errorf("set up workload %s: %w", w.Name, err)
		}
		st.setups[w.Name] = res
	}
	st.issuer, err = testenv.StartIssuer(ctx, testenv.IssuerOptions{AccessTokenTTL: o.TokenTTL, Logger: o.Logger})
	if err != nil {
		return nil, fmt.Errorf("start issuer: %w", err)
	}
	if st.token, err = mintBenchToken(st.issuer, "bench", []string{benchGroup}, o.TokenTTL); err != nil {
		return nil, err
	}
	if st.tokenPII, err = mintBenchToken(st.issuer, "bench-pii", []string{benchGroup, unmaskedGroup}, o.TokenTTL); err != nil {
		return nil, err
	}
	if slices.ContainsFunc(o.Targets, func(s targetSpec) bool { return s.Redirect }) {
		if st.redirect, err = newRedirectEnv(ctx, o.GuardInterfaces, o.Logger); err != nil {
			return nil, err
		}
		st.notes = append(st.notes, fmt.Sprintf("Redirect targets: interlockd runs with `redirect: {enabled: true}` attached to the test cgroup %s (never the root cgroup), pins in a temporary directory under %s, and `protect: [%s]`; pgbench and the bulk sender are started inside that cgroup.",
			st.redirect.cg.Rel, bpffs, st.pg.Addr()))
	}
	for _, spec := range o.Targets {
		t, err := spec.Start(ctx, st)
		if err != nil {
			return nil, fmt.Errorf("start target %s: %w", spec.Name, err)
		}
		st.targets = append(st.targets, t)
	}
	o.Logger.Info("bench stack ready", "dir", st.dir, "postgres", st.pg.Addr(), "took", time.Since(began).Round(time.Millisecond))
	return st, nil
}

// targetsFor are the running targets workload w runs on, in table order.
func (st *stack) targetsFor(w workload) []*target {
	var out []*target
	for _, t := range st.targets {
		if spec, ok := findTarget(t.Name); ok && w.runsOn(spec) {
			out = append(out, t)
		}
	}
	return out
}

// initPgbench creates the pgbench tables at scale 1 as interlock_admin (the
// database owner), which also vacuums them once; runs then pass -n.
func (st *stack) initPgbench(ctx context.Context) error {
	cmd := exec.CommandContext(ctx, st.tools.Pgbench, "-i", "-s", "1", "-q",
		"-h", st.pg.Host, "-p", fmt.Sprint(st.pg.Port), "-U", testenv.RoleAdmin, st.pg.Database)
	cmd.Env = pgbenchEnv(testenv.RoleAdminPassword)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("pgbench -i: %w\n%s", err, out.String())
	}
	return nil
}

// Close stops the targets, the issuer and the cluster and removes the
// temporary directory. It is safe to call twice.
func (st *stack) Close() error {
	if st.closed {
		return nil
	}
	st.closed = true
	var errs []error
	for _, t := range slices.Backward(st.targets) {
		if err := t.Close(); err != nil {
			errs = append(errs, fmt.Errorf("stop %s: %w", t.Name, err))
		}
	}
	if st.ild != nil {
		if err := st.ild.Close(); err != nil {
			errs = append(errs, fmt.Errorf("stop interlockd: %w", err))
		}
	}
	// After interlockd: it no longer needs the redirect.
	if st.redirect != nil {
		if err := st.redirect.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	if st.issuer != nil {
		if err := st.issuer.Close(); err != nil {
			errs = append(errs, fmt.Errorf("stop issuer: %w", err))
		}
	}
	if st.pg != nil {
		if err := st.pg.Close(); err != nil {
			errs = append(errs, fmt.Errorf("stop postgres: %w", err))
		}
	}
	if st.dir != "" {
		if err := os.RemoveAll(st.dir); err != nil {
			errs = append(errs, fmt.Errorf("remove bench dir: %w", err))
		}
	}
	return errors.Join(errs...)
}
