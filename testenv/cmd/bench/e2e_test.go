package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestEndToEnd runs the real stack (PostgreSQL, issuer, pgbouncer, a
// freshly built interlockd) through two short rounds of two workloads and
// checks every figure the report needs was measured, that the interlockd
// runs went through its policy and audit, and that Close leaves nothing.
func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: needs PostgreSQL, pgbench and pgbouncer (" + installCommand + ")")
	}
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
	st, err := startStack(ctx, stackOptions{Tools: tl, Targets: targets, TokenTTL: time.Hour, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("close stack: %v", err)
		}
	})
	ws, err := selectWorkloads([]string{"select-simple", "select-prepared"})
	if err != nil {
		t.Fatal(err)
	}
	results, err := runWorkloads(ctx, st, runPlan{Workloads: ws, Rounds: 2, Duration: 2 * time.Second, Warmup: time.Second}, log)
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 2 {
		t.Fatalf("got %d workload results, want 2", len(results))
	}
	for _, wr := range results {
		for _, name := range []string{targetDirect, targetPgbouncer, targetInterlockd} {
			runs := wr.Runs[name]
			if len(runs) != 2 {
				t.Fatalf("%s/%s: got %d runs, want 2", wr.Workload.Name, name, len(runs))
			}
			for _, r := range runs {
				where := wr.Workload.Name + "/" + name
				if r.Err != nil {
					t.Fatalf("%s round %d: %v", where, r.Round+1, r.Err)
				}
				if r.TPS <= 0 || r.Txns <= 0 || r.P50 <= 0 || r.P99 < r.P50 {
					t.Errorf("%s round %d: tps %v, txns %d, p50 %v, p99 %v", where, r.Round+1, r.TPS, r.Txns, r.P50, r.P99)
				}
				if !r.HasPGCPU || r.PGCPU <= 0 || r.ClientCPU <= 0 {
					t.Errorf("%s round %d: PostgreSQL CPU %v (measured %v), pgbench CPU %v", where, r.Round+1, r.PGCPU, r.HasPGCPU, r.ClientCPU)
				}
				if wantProxy := name != targetDirect; r.HasProxy != wantProxy || (wantProxy && r.ProxyCPU <= 0) {
					t.Errorf("%s round %d: proxy CPU %v (measured %v), want measured: %v", where, r.Round+1, r.ProxyCPU, r.HasProxy, wantProxy)
				}
			}
			// Rotation: each target leads in one round and not in the other.
			if runs[0].Order == runs[1].Order {
				t.Errorf("%s/%s: same position %d in both rounds", wr.Workload.Name, name, runs[0].Order)
			}
		}
	}
	audit, err := os.ReadFile(filepath.Join(st.dir, "interlockd", "audit.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(audit), "pgbench_accounts") || !strings.Contains(string(audit), `"user":"bench"`) {
		t.Errorf("interlockd's audit log has no pgbench statement by the bench user (%d bytes)", len(audit))
	}

	md := (&report{Workloads: results, Meta: reportMeta{Rounds: 2, Duration: 2 * time.Second}, GoSkipped: true}).markdown()
	for _, want := range []string{
		`(?m)^\| interlockd/pgbouncer \| [0-9.]+ \| [0-9.]+ \| \*\*[0-9.]+\*\* \|$`,
		`(?m)^\| interlockd ≥ 0\.75× pgbouncer TPS, select-prepared \| [0-9.]+× \(rounds [0-9.]+–[0-9.]+\) \| (PASS|FAIL) \|$`,
	} {
		if !regexp.MustCompile(want).MatchString(md) {
			t.Errorf("report lacks a line matching %s:\n%s", want, md)
		}
	}

	t.Run("cancel", func(t *testing.T) {
		cctx, ccancel := context.WithCancel(ctx)
		time.AfterFunc(time.Second, ccancel)
		began := time.Now()
		_, err := runWorkloads(cctx, st, runPlan{Workloads: ws[:1], Rounds: 1, Duration: time.Minute}, log)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("runWorkloads after cancel: got %v, want context.Canceled", err)
		}
		if took := time.Since(began); took > 20*time.Second {
			t.Errorf("cancel took %v to stop pgbench", took)
		}
	})

	proxies := []*child{}
	for _, tg := range st.targets {
		if tg.Proxy != nil {
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
	if _, err := os.Stat(st.dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("bench dir %s after Close: %v, want it removed", st.dir, err)
	}
}
