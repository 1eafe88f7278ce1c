package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/interlock-dev/interlock/testenv"
)

// TestEndToEnd runs the real stack (PostgreSQL, issuer, pgbouncer, a
// freshly built interlockd with the eBPF redirect in a test cgroup) through
// two short rounds of the workloads of every target and checks that every
// figure the report needs was measured, that interlockd masked the wide
// table for the bench identity only, that the redirect target went through
// the redirect, that the guard is attached only during its runs, and that
// Close (also after a cancelled guard run) leaves nothing.
func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: needs root, eBPF, PostgreSQL, pgbench and pgbouncer (" + installCommand + ")")
	}
	testenv.RequireRoot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	root, err := moduleRoot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tl, err := findTools(ctx, root, filepath.Join(t.TempDir(), "interlockd"), true, true, log)
	if err != nil {
		t.Fatalf("%v (as root, with Debian's packages: %s)", err, installCommand)
	}
	ws, err := selectWorkloads([]string{"select-simple", "wide", "connect", "guard-bulk"})
	if err != nil {
		t.Fatal(err)
	}
	specs := usedTargets(ws, targets)
	if len(specs) != len(targets) {
		t.Fatalf("the workloads use %d of the %d targets", len(specs), len(targets))
	}
	st, err := startStack(ctx, stackOptions{Tools: tl, Targets: specs, Workloads: ws, TokenTTL: time.Hour, GuardInterfaces: []string{"lo"}, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("close stack: %v", err)
		}
	})
	pinDir, cgPath := st.redirect.pinDir, st.redirect.cg.Path
	if pins := guardPins(pinDir); len(pins) != 0 {
		t.Fatalf("guard pinned before any guard run: %v", pins)
	}

	t.Run("masking", func(t *testing.T) { checkWideMasking(ctx, t, st) })
	t.Run("guard switch", func(t *testing.T) {
		g := st.redirect.guard
		if err := g.On(ctx); err != nil {
			t.Fatal(err)
		}
		pins := guardPins(pinDir)
		if err := g.Off(); err != nil {
			t.Fatal(err)
		}
		// lo is interface 1 in every network namespace.
		for _, want := range []string{"link_guard_egress", "link_tcx_1"} {
			if !slices.Contains(pins, want) {
				t.Errorf("pins with the guard on = %v, want %s among them", pins, want)
			}
		}
		if pins := guardPins(pinDir); len(pins) != 0 {
			t.Errorf("pins after Off = %v", pins)
		}
	})

	results, err := runWorkloads(ctx, st, runPlan{Workloads: ws, Rounds: 2, Duration: time.Second}, log)
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != len(ws) {
		t.Fatalf("got %d workload results, want %d", len(results), len(ws))
	}
	for _, wr := range results {
		w := wr.Workload
		if !slices.Equal(wr.Targets, w.Targets) {
			t.Errorf("%s ran on %v, want %v", w.Name, wr.Targets, w.Targets)
		}
		for _, name := range wr.Targets {
			runs := wr.Runs[name]
			if len(runs) != 2 {
				t.Fatalf("%s/%s: got %d runs, want 2", w.Name, name, len(runs))
			}
			for _, r := range runs {
				checkMeasured(t, w, name, r)
			}
			// Rotation: each target leads in one round and not in the other.
			if runs[0].Order == runs[1].Order {
				t.Errorf("%s/%s: same position %d in both rounds", w.Name, name, runs[0].Order)
			}
		}
		if w.Name == "wide" && wr.BytesPerTxn < 3_000_000 {
			t.Errorf("wide: %d bytes per transaction, want the 10,000 rows' DataRows (about 4 MB)", wr.BytesPerTxn)
		}
	}
	if pins := guardPins(pinDir); len(pins) != 0 {
		t.Errorf("guard pinned after the runs: %v", pins)
	}
	audit, err := os.ReadFile(filepath.Join(st.dir, "interlockd", "audit.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"pgbench_accounts", `"user":"bench"`, "FROM wide", `"user":"bench-pii"`,
		// Sessions of the redirect targets: pgbench, bound to the address it dialled.
		`"comm":"pgbench"`, fmt.Sprintf(`"original_destination":"%s"`, st.pg.Addr()), `"cgroup":"` + st.redirect.cg.Rel,
	} {
		if !strings.Contains(string(audit), want) {
			t.Errorf("interlockd's audit log lacks %s (%d bytes)", want, len(audit))
		}
	}

	rep := &report{Workloads: results, Notes: st.notes, Meta: reportMeta{Rounds: 2, Duration: time.Second}, GoSkipped: true}
	md := rep.markdown()
	for _, want := range []string{
		`(?m)^\| interlockd/pgbouncer \| [0-9.]+ \| [0-9.]+ \| \*\*[0-9.]+\*\* \|$`,
		`(?m)^\| interlockd ≥ 1\.00× pgbouncer MB/s, wide \(3 of 20 columns masked\) \| [0-9.]+× \(rounds [0-9.]+–[0-9.]+\) \| (PASS|FAIL) \|$`,
		`(?m)^\| interlockd-redirect / interlockd connections/s, connect .* \| [0-9.]+× .* \| reported \|$`,
		`(?m)^\| interlockd-guard / interlockd-redirect MiB/s, guard-bulk .* \| [0-9.]+× .* \| reported \|$`,
		"(?m)^## wide: `pgbench -M simple -c2 -j2 -f wide\\.sql`$",
		`(?m)^\| interlockd-nomask \| [0-9,]+ \([0-9,]+–[0-9,]+\) \| [0-9,]+ \|`, // MB/s column
		`Redirect targets: interlockd runs with`,
	} {
		if !regexp.MustCompile(want).MatchString(md) {
			t.Errorf("report lacks a line matching %s:\n%s", want, md)
		}
	}

	t.Run("cancel during a guard run", func(t *testing.T) {
		bulk, _ := findWorkload("guard-bulk")
		var guard *target
		for _, tg := range st.targets {
			if tg.Name == targetGuard {
				guard = tg
			}
		}
		cctx, ccancel := context.WithCancel(ctx)
		defer ccancel()
		time.AfterFunc(time.Second, func() {
			if pins := guardPins(pinDir); len(pins) == 0 {
				t.Error("no guard pinned during the guard run")
			}
			ccancel()
		})
		began := time.Now()
		_, err := runOne(cctx, st, guard, bulk, time.Minute, "cancel")
		if !errors.Is(err, context.Canceled) {
			t.Errorf("runOne after cancel: got %v, want context.Canceled", err)
		}
		if took := time.Since(began); took > 20*time.Second {
			t.Errorf("cancel took %v to stop", took)
		}
		if pins := guardPins(pinDir); len(pins) != 0 {
			t.Errorf("guard still pinned after a cancelled run: %v", pins)
		}
	})

	proxies := []*child{st.ild}
	for _, tg := range st.targets {
		if tg.Proxy != nil && !slices.Contains(proxies, tg.Proxy) {
			proxies = append(proxies, tg.Proxy)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatalf("close stack: %v", err)
	}
	for _, c := range proxies {
		if c.exited() == nil {
			t.Errorf("%s still running after Close", c.name)
		}
	}
	for _, p := range []string{st.dir, pinDir, cgPath} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s after Close: %v, want it removed", p, err)
		}
	}
}

// checkMeasured checks one run measured what the report shows for it.
func checkMeasured(t *testing.T, w workload, target string, r runResult) {
	t.Helper()
	where := fmt.Sprintf("%s/%s round %d", w.Name, target, r.Round+1)
	if r.Err != nil {
		t.Fatalf("%s: %v", where, r.Err)
	}
	if r.TPS <= 0 || r.Txns <= 0 || r.ClientCPU <= 0 {
		t.Errorf("%s: rate %v, txns %d, client CPU %v", where, r.TPS, r.Txns, r.ClientCPU)
	}
	if w.Run != nil { // the bulk transfer: no pgbench figures
		return
	}
	if r.P99 < r.P50 || (!w.connects() && r.P50 <= 0) {
		t.Errorf("%s: p50 %v, p99 %v", where, r.P50, r.P99)
	}
	if w.connects() != (r.ConnectUS > 0) {
		t.Errorf("%s: average connection time %v µs", where, r.ConnectUS)
	}
	if !r.HasPGCPU || r.PGCPU <= 0 {
		t.Errorf("%s: PostgreSQL CPU %v (measured %v)", where, r.PGCPU, r.HasPGCPU)
	}
	if wantProxy := target != targetDirect; r.HasProxy != wantProxy || (wantProxy && r.ProxyCPU <= 0) {
		t.Errorf("%s: proxy CPU %v (measured %v), want measured: %v", where, r.ProxyCPU, r.HasProxy, wantProxy)
	}
}

// checkWideMasking reads the first row of the wide table directly, through
// interlockd as the bench identity (3 columns masked) and as a member of
// pii-readers (nothing masked).
func checkWideMasking(ctx context.Context, t *testing.T, st *stack) {
	row := func(dsn string) map[string]string {
		t.Helper()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		rows, err := conn.Query(ctx, "SELECT * FROM wide WHERE c1 = 1", pgx.QueryExecModeSimpleProtocol)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		if !rows.Next() {
			t.Fatalf("no row: %v", rows.Err())
		}
		out := map[string]string{}
		for i, f := range rows.FieldDescriptions() {
			out[f.Name] = string(rows.RawValues()[i])
		}
		return out
	}
	var direct, masked, unmasked map[string]string
	for _, tg := range st.targets {
		switch tg.Name {
		case targetDirect:
			direct = row(tg.dsn())
		case targetInterlockd:
			masked = row(tg.dsn())
		case targetNoMask:
			unmasked = row(tg.dsn())
		}
	}
	if direct["c7"] != "customer1@example.com" || len(direct["c3"]) != 16 || len(direct["c12"]) != 9 {
		t.Fatalf("direct row = %v", direct)
	}
	want := map[string]string{
		"c3":  strings.Repeat("*", 12) + direct["c3"][12:], // partial, keep 4
		"c7":  "****@example.com",                          // email
		"c12": "****",                                      // redact
	}
	for name, v := range direct {
		if w, ok := want[name]; ok {
			if masked[name] != w {
				t.Errorf("interlockd %s = %q, want %q", name, masked[name], w)
			}
		} else if masked[name] != v {
			t.Errorf("interlockd %s = %q, want it unmasked: %q", name, masked[name], v)
		}
		if unmasked[name] != v {
			t.Errorf("interlockd-nomask %s = %q, want %q", name, unmasked[name], v)
		}
	}
}
