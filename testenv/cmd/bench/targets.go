package main

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os/exec"
	"strconv"
	"strings"

	"github.com/interlock-dev/interlock/testenv"
)

// Target names used by the ratios and the pass/fail checks.
const (
	targetDirect     = "direct"
	targetPgbouncer  = "pgbouncer"
	targetInterlockd = "interlockd"
	targetNoMask     = "interlockd-nomask"
	targetRedirect   = "interlockd-redirect"
	targetGuard      = "interlockd-guard"
	targetGoRelay    = "go-relay"
)

// targetSpec is an entry of the target table.
type targetSpec struct {
	// Name is used on the command line and in the report.
	Name string
	// About is a short description for the report.
	About string
	// Start brings the target up on st and returns where pgbench connects.
	Start func(ctx context.Context, st *stack) (*target, error)
	// Optional targets run only in workloads that list them.
	Optional bool
	// What the stack must provide for this target.
	Pgbouncer, Interlockd, Redirect, Guard bool
}

// targets is the table of known targets, in report order. The interlockd
// targets share one bin/interlockd process, so their paired ratios compare
// the same process reached in different ways.
var targets = []targetSpec{
	{Name: targetDirect, About: "PostgreSQL over TCP 127.0.0.1", Start: startDirect},
	{Name: targetPgbouncer, About: "pgbouncer, session pool mode, as interlock_admin", Start: startPgbouncer, Pgbouncer: true},
	{Name: targetInterlockd, About: "bin/interlockd's listener, OIDC token as password (group admins), brokered interlock_admin",
		Start: startInterlockd, Interlockd: true},
	{Name: targetNoMask, About: "the same interlockd, a token whose groups include pii-readers (nothing masked)",
		Start: startNoMask, Interlockd: true, Optional: true},
	{Name: targetRedirect, About: "pgbench runs in a test cgroup and connects to PostgreSQL's own address; the eBPF redirect sends it to the same interlockd (token as password)",
		Start: startRedirect, Interlockd: true, Redirect: true, Optional: true},
	{Name: targetGuard, About: "as interlockd-redirect, with the bypass guard attached for the run (enforce: cgroup_skb egress at the cgroup, tc egress on the guard interfaces)",
		Start: startGuard, Interlockd: true, Redirect: true, Guard: true, Optional: true},
	{Name: targetGoRelay, About: "a Go relay with interlockd's raw socket I/O and nothing else (no identity, policy, audit or masking; pgconn login with the client's password): the floor of a Go proxy on this machine",
		Start: startGoRelay, Optional: true},
}

// target is a running target pgbench can connect to.
type target struct {
	Name     string
	Host     string
	Port     uint16
	Database string
	User     string
	Password string
	// Proxy is the process between pgbench and PostgreSQL whose CPU per
	// transaction is reported; nil when there is none.
	Proxy *child
	// Prepare, when set, adjusts each pgbench command before it starts
	// (e.g. to place it in a cgroup whose connections are redirected).
	Prepare func(*exec.Cmd) error
	// Begin and End, when set, run before and after each run of the
	// target (e.g. attach and detach the guard). An End error ends the
	// bench: the machine is then in an unknown state.
	Begin func(ctx context.Context) error
	End   func() error
	// close releases what Start acquired; nil when nothing.
	close func() error
}

// Close stops the target's processes. It is safe to call twice.
func (t *target) Close() error {
	if t.close == nil {
		return nil
	}
	err := t.close()
	t.close = nil
	return err
}

// alive reports an error when the target's proxy process has exited.
func (t *target) alive() error {
	if t.Proxy == nil {
		return nil
	}
	return t.Proxy.exited()
}

func startDirect(_ context.Context, st *stack) (*target, error) {
	return &target{
		Name: targetDirect, Host: st.pg.Host, Port: st.pg.Port, Database: st.pg.Database,
		User: testenv.RoleAdmin, Password: testenv.RoleAdminPassword,
	}, nil
}

// selectTargets returns the named targets in table order, so report rows
// and the rotation base are stable whatever order -targets lists them in.
func selectTargets(names []string) ([]targetSpec, error) {
	want := map[string]bool{}
	for _, n := range names {
		if _, ok := findTarget(n); !ok {
			return nil, fmt.Errorf("unknown target %q (known: %s)", n, strings.Join(targetNames(), ", "))
		}
		want[n] = true
	}
	var out []targetSpec
	for _, t := range targets {
		if want[t.Name] {
			out = append(out, t)
		}
	}
	return out, nil
}

func findTarget(name string) (targetSpec, bool) {
	for _, t := range targets {
		if t.Name == name {
			return t, true
		}
	}
	return targetSpec{}, false
}

func targetNames() []string {
	out := make([]string, len(targets))
	for i, t := range targets {
		out[i] = t.Name
	}
	return out
}

// rotate returns the order of targets for round r (0-based): the list
// rotated left by r, so each target leads in turn.
func rotate[T any](list []T, r int) []T {
	n := len(list)
	out := make([]T, n)
	for i := range list {
		out[i] = list[(i+r)%n]
	}
	return out
}

// dsn is a pgx/libpq URL for t (used for readiness checks).
func (t *target) dsn() string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(t.User, t.Password),
		Host:     net.JoinHostPort(t.Host, strconv.Itoa(int(t.Port))),
		Path:     "/" + t.Database,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}
