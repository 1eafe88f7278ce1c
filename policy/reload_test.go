package policy

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/interlock-dev/interlock/testenv"
)

func decideSel(t *testing.T, s *Session) Decision {
	t.Helper()
	d, err := s.Decide(context.Background(), sel())
	if err != nil {
		t.Fatalf("Decide: %v", err)
	}
	return d
}

// TestReload: good → broken keeps the last good policy and reports the
// error → fixed takes effect, without dropping the session.
func TestReload(t *testing.T) {
	obs := &counter{}
	dir := policyDir(t, allowAll)
	e := mustEngine(t, Config{Paths: []string{dir}, Observer: obs})
	s := e.Session(ctxFor(nil, "dev"))
	if d := decideSel(t, s); !d.Allow {
		t.Fatalf("got %+v, want allowed", d)
	}
	gen := e.Generation()

	writePolicy(t, dir, "policy.rego", "package interlock\n\ndecision := {\n")
	if err := e.Reload(context.Background()); err == nil {
		t.Fatal("Reload of a broken policy succeeded")
	}
	if got := obs.reloadErr.Load(); got != 1 {
		t.Fatalf("observer saw %d failed reloads, want 1", got)
	}
	if d := decideSel(t, s); !d.Allow {
		t.Fatalf("after a failed reload got %+v, want the last good policy (allow)", d)
	}
	if e.Generation() != gen {
		t.Fatalf("generation changed on a failed reload: %d → %d", gen, e.Generation())
	}

	// A policy that compiles but has no decision rule is rejected too.
	writePolicy(t, dir, "policy.rego", "package interlock\n\nverdict := true\n")
	if err := e.Reload(context.Background()); err == nil {
		t.Fatal("Reload of a policy without a decision succeeded")
	}

	writePolicy(t, dir, "policy.rego", denyAll)
	if err := e.Reload(context.Background()); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	if d := decideSel(t, s); d.Allow || d.Reason != "all denied" {
		t.Fatalf("after reload got %+v, want denied: all denied", d)
	}
	if e.Generation() != gen+1 {
		t.Fatalf("generation %d, want %d", e.Generation(), gen+1)
	}
	// Unchanged content is a no-op: same generation.
	if err := e.Reload(context.Background()); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	if e.Generation() != gen+1 {
		t.Fatalf("reload of unchanged policy changed the generation to %d", e.Generation())
	}
	if got, want := obs.reloads.Load(), int64(5); got != want {
		t.Fatalf("observer saw %d reloads, want %d (New, 2 failed, 2 good)", got, want)
	}
}

func TestSetData(t *testing.T) {
	dir := policyDir(t, `package interlock

decision := {"allow": data.interlock_config.open == true, "reason": "closed"}
`)
	e := mustEngine(t, Config{Paths: []string{dir}})
	s := e.Session(ctxFor(nil, "dev"))
	if d := decideSel(t, s); d.Allow {
		t.Fatalf("got %+v, want denied", d)
	}
	if err := e.SetData(context.Background(), map[string]any{"open": true}); err != nil {
		t.Fatal(err)
	}
	if d := decideSel(t, s); !d.Allow {
		t.Fatalf("after SetData got %+v, want allowed", d)
	}
	if err := e.SetData(context.Background(), map[string]any{"bad": make(chan int)}); err == nil {
		t.Fatal("SetData with non-JSON data succeeded")
	}
	if d := decideSel(t, s); !d.Allow {
		t.Fatalf("after a failed SetData got %+v, want the previous data (allowed)", d)
	}
}

func TestLoadSkipsTestsAndHiddenFiles(t *testing.T) {
	dir := policyDir(t, allowAll)
	// A test file and a hidden directory that would conflict if loaded.
	writePolicy(t, dir, "policy_test.rego", "package interlock\n\ndecision := 1\n")
	hidden := filepath.Join(dir, "..2024_01_01")
	if err := os.Mkdir(hidden, 0o755); err != nil {
		t.Fatal(err)
	}
	writePolicy(t, hidden, "policy.rego", denyAll)
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	writePolicy(t, sub, "extra.rego", "package interlock\n\nextra := true\n")
	e := mustEngine(t, Config{Paths: []string{dir}})
	if d := decideSel(t, e.Session(ctxFor(nil, "dev"))); !d.Allow {
		t.Fatalf("got %+v, want allowed", d)
	}
	if got := e.cur.Load().modules; got != 2 {
		t.Fatalf("loaded %d modules, want 2 (policy.rego, sub/extra.rego)", got)
	}
}

// TestWatch: editing a file, or replacing it by rename, reloads.
func TestWatch(t *testing.T) {
	dir := policyDir(t, allowAll)
	obs := &counter{}
	e := mustEngine(t, Config{Paths: []string{dir}, Observer: obs, WatchDebounce: 20 * time.Millisecond})
	s := e.Session(ctxFor(nil, "dev"))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Watch(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Watch: %v", err)
		}
	})
	// Watch has started once an event is seen; rewrite until then.
	testenv.WaitFor(t, 10*time.Second, "reload after write", every(100*time.Millisecond, func() {
		writePolicy(t, dir, "policy.rego", denyAll)
	}, func() bool { return !decideSel(t, s).Allow }))

	// Editor-style save: write a temporary file and rename it over.
	tmp := writePolicy(t, dir, ".policy.rego.swp", allowAll)
	if err := os.Rename(tmp, filepath.Join(dir, "policy.rego")); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 10*time.Second, "reload after rename", func() bool { return decideSel(t, s).Allow })

	// A broken save keeps the last good policy and is reported.
	before := obs.reloadErr.Load()
	writePolicy(t, dir, "policy.rego", "package interlock\n\ndecision := {\n")
	testenv.WaitFor(t, 10*time.Second, "failed reload reported", func() bool { return obs.reloadErr.Load() > before })
	if !decideSel(t, s).Allow {
		t.Fatal("a broken policy replaced the last good one")
	}

	// A new subdirectory is watched too.
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	writePolicy(t, dir, "policy.rego", allowAll)
	gen := e.Generation()
	testenv.WaitFor(t, 10*time.Second, "reload after new file in new directory", every(100*time.Millisecond, func() {
		writePolicy(t, sub, "more.rego", "package interlock\n\nmore := true\n")
	}, func() bool { return e.Generation() > gen && e.cur.Load().modules == 2 }))
}

func TestWatchFilePath(t *testing.T) {
	dir := policyDir(t, allowAll)
	file := filepath.Join(dir, "policy.rego")
	e := mustEngine(t, Config{Paths: []string{file}, WatchDebounce: 20 * time.Millisecond})
	s := e.Session(ctxFor(nil, "dev"))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Watch(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	testenv.WaitFor(t, 10*time.Second, "reload after write", every(100*time.Millisecond, func() {
		writePolicy(t, dir, "policy.rego", denyAll)
	}, func() bool { return !decideSel(t, s).Allow }))
}

// every returns a condition for waitFor that runs act at most once per
// interval (starting at once) before checking cond: it repeats a file
// change until the watcher, which may not have started yet, sees it,
// without resetting the debounce timer on every poll.
func every(interval time.Duration, act func(), cond func() bool) func() bool {
	var last time.Time
	return func() bool {
		if time.Since(last) >= interval {
			act()
			last = time.Now()
		}
		return cond()
	}
}

func TestWatchEmbedded(t *testing.T) {
	e := mustEngine(t, Config{})
	if err := e.Watch(context.Background()); err != nil {
		t.Fatalf("Watch with the embedded policy: %v", err)
	}
}

// TestWatchConfigMap: a Kubernetes ConfigMap volume replaces its files by
// swapping the ..data symlink; both a directory path and a file path
// (itself a symlink) see the swap.
func TestWatchConfigMap(t *testing.T) {
	for _, asFile := range []bool{false, true} {
		t.Run(map[bool]string{false: "directory", true: "file"}[asFile], func(t *testing.T) {
			dir := t.TempDir()
			version := func(name, text string) {
				t.Helper()
				if err := os.Mkdir(filepath.Join(dir, name), 0o755); err != nil {
					t.Fatal(err)
				}
				writePolicy(t, filepath.Join(dir, name), "policy.rego", text)
			}
			version("..2026_01", allowAll)
			mustSymlink(t, "..2026_01", filepath.Join(dir, "..data"))
			mustSymlink(t, filepath.Join("..data", "policy.rego"), filepath.Join(dir, "policy.rego"))
			path := dir
			if asFile {
				path = filepath.Join(dir, "policy.rego")
			}
			e := mustEngine(t, Config{Paths: []string{path}, WatchDebounce: 20 * time.Millisecond})
			s := e.Session(ctxFor(nil, "dev"))
			if !decideSel(t, s).Allow {
				t.Fatal("initial policy not loaded")
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- e.Watch(ctx) }()
			t.Cleanup(func() { cancel(); <-done })

			// The atomic writer: new version directory, new symlink,
			// renamed over ..data. Repeated with new versions until the
			// watcher (which may not have started) sees one.
			n := 0
			testenv.WaitFor(t, 10*time.Second, "reload after ..data swap", every(100*time.Millisecond, func() {
				n++
				name := fmt.Sprintf("..2026_02_%d", n)
				version(name, denyAll)
				tmp := filepath.Join(dir, "..data_tmp")
				mustSymlink(t, name, tmp)
				if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
					t.Fatal(err)
				}
			}, func() bool { return !decideSel(t, s).Allow }))
		})
	}
}

func mustSymlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}
