package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// goBenchPackages are the packages whose micro-benchmarks are reported.
var goBenchPackages = []string{"./daemon/proxy", "./policy/...", "./daemon/audit", "./daemon/pgwire"}

// Reference and hot-path benchmarks named in the report.
const (
	// refBench is a pg_query parse of pgbench's SELECT (25–29 µs on this
	// machine kind); other benchmarks are normalised against it so that
	// figures from machines of different speed compare.
	refBenchPkg  = "policy/analysis"
	refBenchName = "BenchmarkAnalyzePgbenchSelect"
	// hotBench is the per-statement hot path: target ≤ 5 µs, 0 allocs,
	// for each of its variants (a user without and with masking rules).
	hotBenchPkg   = "daemon/proxy"
	hotBenchName  = "BenchmarkStatementHit"
	hotBenchMaxNs = 5000
)

var hotBenchVariants = []string{"unmasked", "masked"}

// goBench is one Go benchmark and its samples, one per -count run.
type goBench struct {
	// Pkg is the import path relative to the module ("daemon/proxy").
	Pkg string
	// Name without the -GOMAXPROCS suffix.
	Name string
	// Values maps a unit ("ns/op", "B/op", "allocs/op", "MB/s", …) to
	// its samples.
	Values map[string][]float64
	// Units in the order first seen.
	Units []string
}

// runGoBenchmarks runs the micro-benchmarks in root and parses them. The
// output streams to w as it comes. A failing package (build error, failed
// benchmark) yields an error together with what the others produced.
func runGoBenchmarks(ctx context.Context, root string, count int, w io.Writer, log *slog.Logger) ([]goBench, error) {
	args := append([]string{"test", "-run=-", "-bench=.", "-benchmem", "-count=" + strconv.Itoa(count)}, goBenchPackages...)
	log.Info("running Go micro-benchmarks", "cmd", "go "+strings.Join(args, " "))
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	cmd.Env = os.Environ()
	killGroup(cmd)
	var out bytes.Buffer
	cmd.Stdout = io.MultiWriter(&out, w)
	cmd.Stderr = w
	runErr := cmd.Run()
	benches, err := parseGoBench(&out, modulePath(root))
	if err != nil {
		return benches, err
	}
	if runErr != nil {
		if ctx.Err() != nil {
			return benches, ctx.Err()
		}
		if failed := parseGoFailures(out.String(), modulePath(root)); len(failed) > 0 {
			return benches, fmt.Errorf("go test -bench failed in %s: %w (see the output above)", strings.Join(failed, ", "), runErr)
		}
		return benches, fmt.Errorf("go test -bench: %w (see the output above)", runErr)
	}
	return benches, nil
}

// parseGoBench reads `go test -bench` output: "pkg: " lines set the
// package, benchmark lines are "BenchmarkName-N <iterations> {<value> <unit>}".
// Samples of the same package and name are merged in order of appearance.
// Package paths are shortened by stripping module + "/".
func parseGoBench(r io.Reader, module string) ([]goBench, error) {
	var out []goBench
	index := map[string]int{}
	pkg := ""
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(p), module), "/")
			continue
		}
		name, values, ok := parseBenchLine(line)
		if !ok {
			continue
		}
		key := pkg + "\x00" + name
		i, seen := index[key]
		if !seen {
			i = len(out)
			index[key] = i
			out = append(out, goBench{Pkg: pkg, Name: name, Values: map[string][]float64{}})
		}
		b := &out[i]
		for _, uv := range values {
			if _, ok := b.Values[uv.unit]; !ok {
				b.Units = append(b.Units, uv.unit)
			}
			b.Values[uv.unit] = append(b.Values[uv.unit], uv.value)
		}
	}
	if err := sc.Err(); err != nil {
		return out, fmt.Errorf("read go test output: %w", err)
	}
	return out, nil
}

// parseGoFailures lists the packages go test reported as failed
// ("FAIL\t<pkg> [build failed]" or "FAIL\t<pkg>\t<time>"), shortened like
// parseGoBench's, with "(build failed)" where it says so.
func parseGoFailures(out, module string) []string {
	var failed []string
	for line := range strings.Lines(out) {
		rest, ok := strings.CutPrefix(line, "FAIL\t")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		pkg := strings.TrimPrefix(strings.TrimPrefix(f[0], module), "/")
		if strings.Contains(rest, "[build failed]") {
			pkg += " (build failed)"
		}
		failed = append(failed, pkg)
	}
	return failed
}

type unitValue struct {
	value float64
	unit  string
}

// parseBenchLine parses one result line; ok is false for anything else
// (headers, log output, "--- FAIL" lines).
func parseBenchLine(line string) (name string, values []unitValue, ok bool) {
	f := strings.Fields(line)
	if len(f) < 4 || len(f)%2 != 0 || !strings.HasPrefix(f[0], "Benchmark") {
		return "", nil, false
	}
	if _, err := strconv.ParseInt(f[1], 10, 64); err != nil {
		return "", nil, false
	}
	for i := 2; i+1 < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return "", nil, false
		}
		values = append(values, unitValue{v, f[i+1]})
	}
	return stripProcs(f[0]), values, true
}

// stripProcs removes the -GOMAXPROCS suffix ("BenchmarkX-2" → "BenchmarkX").
func stripProcs(name string) string {
	i := strings.LastIndexByte(name, '-')
	if i < 0 {
		return name
	}
	if _, err := strconv.Atoi(name[i+1:]); err != nil {
		return name
	}
	return name[:i]
}

// modulePath reads the module path from root/go.mod.
func modulePath(root string) string {
	b, err := os.ReadFile(root + "/go.mod")
	if err != nil {
		return ""
	}
	for line := range strings.Lines(string(b)) {
		if m, ok := strings.CutPrefix(strings.TrimSpace(line), "module "); ok {
			return strings.Trim(strings.TrimSpace(m), `"`)
		}
	}
	return ""
}

// find returns the benchmark pkg/name, if present.
func findGoBench(benches []goBench, pkg, name string) (goBench, bool) {
	for _, b := range benches {
		if b.Pkg == pkg && b.Name == name {
			return b, true
		}
	}
	return goBench{}, false
}
