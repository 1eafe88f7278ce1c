package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// runResult is the outcome of one pgbench run against one target.
type runResult struct {
	// Round is the 0-based round; Order the target's 0-based position in it.
	Round, Order int
	// TPS is pgbench's "tps = …" excluding the initial connection time (or
	// including reconnections under -C).
	TPS float64
	// Txns and Failed are pgbench's transaction counts.
	Txns, Failed int64
	// P50 and P99 are latencies in µs from the per-transaction log.
	P50, P99 float64
	// ConnectUS is pgbench's average connection time in µs under -C
	// (connect, startup and authentication); 0 otherwise.
	ConnectUS float64
	// ProxyCPU is the proxy process's CPU time during the run (0 for
	// direct), PGCPU PostgreSQL's (postmaster and every backend),
	// ClientCPU pgbench's.
	ProxyCPU, PGCPU, ClientCPU time.Duration
	// HasProxy reports whether ProxyCPU was measured; HasPGCPU likewise.
	HasProxy, HasPGCPU bool
	// Err is set when the run failed; the other fields are then unset.
	Err error
}

// perTxn is d per transaction in µs, NaN without transactions.
func (r runResult) perTxn(d time.Duration) float64 {
	if r.Txns <= 0 {
		return math.NaN()
	}
	return float64(d.Microseconds()) / float64(r.Txns)
}

// runPgbench runs workload w against t for d and measures it.
func runPgbench(ctx context.Context, st *stack, t *target, w workload, d time.Duration, name string) runResult {
	var res runResult
	logDir := filepath.Join(st.dir, "pgbench-logs")
	if err := os.MkdirAll(logDir, 0o700); err != nil {
		res.Err = fmt.Errorf("make pgbench log dir: %w", err)
		return res
	}
	prefix := filepath.Join(logDir, name)
	args := []string{
		"-h", t.Host, "-p", strconv.Itoa(int(t.Port)), "-U", t.User,
		"-n", "-T", strconv.Itoa(max(1, int(d.Round(time.Second).Seconds()))),
		"--log", "--log-prefix=" + prefix,
	}
	args = append(args, w.Args...)
	if w.Script != "" {
		script := filepath.Join(st.dir, w.Name+".sql")
		if err := os.WriteFile(script, []byte(w.Script), 0o644); err != nil {
			res.Err = fmt.Errorf("write %s script: %w", w.Name, err)
			return res
		}
		args = append(args, "-f", script)
	}
	args = append(args, t.Database)

	cmd := exec.CommandContext(ctx, st.tools.Pgbench, args...)
	cmd.Env = pgbenchEnv(t.Password)
	killGroup(cmd)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if t.Prepare != nil {
		if err := t.Prepare(cmd); err != nil {
			res.Err = fmt.Errorf("prepare pgbench for %s: %w", t.Name, err)
			return res
		}
	}

	before := sampleCPU(st, t)
	runErr := cmd.Run()
	after := sampleCPU(st, t)
	defer removeLogs(prefix)
	if runErr != nil {
		if ctx.Err() != nil {
			res.Err = ctx.Err()
		} else {
			res.Err = fmt.Errorf("pgbench %s: %w\n%s", strings.Join(args, " "), runErr, tail(out.String(), 15))
		}
		return res
	}
	sum, err := parseSummary(out.String())
	if err != nil {
		res.Err = fmt.Errorf("pgbench output: %w\n%s", err, tail(out.String(), 15))
		return res
	}
	lat, err := readLatencies(prefix)
	if err != nil {
		res.Err = err
		return res
	}
	res.TPS, res.Txns, res.Failed, res.ConnectUS = sum.TPS, sum.Txns, sum.Failed, sum.ConnectUS
	res.P50, res.P99 = percentile(lat, 0.50), percentile(lat, 0.99)
	res.ClientCPU = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	res.ProxyCPU, res.HasProxy = after.proxy-before.proxy, before.hasProxy && after.hasProxy
	res.PGCPU, res.HasPGCPU = after.pg-before.pg, before.hasPG && after.hasPG
	return res
}

// pgbenchEnv is a minimal environment carrying the password.
func pgbenchEnv(password string) []string {
	return []string{"PATH=/usr/bin:/bin", "LC_ALL=C", "PGSSLMODE=disable", "PGPASSWORD=" + password}
}

// pgbenchSummary is what runPgbench takes from pgbench's report.
type pgbenchSummary struct {
	TPS          float64
	Txns, Failed int64
	// ConnectUS is the "average connection time" of a -C run, in µs.
	ConnectUS float64
}

var (
	reTPS    = regexp.MustCompile(`(?m)^tps = ([0-9.]+) \((without initial connection time|including reconnection times)\)`)
	reTxns   = regexp.MustCompile(`(?m)^number of transactions actually processed: ([0-9]+)`)
	reFailed = regexp.MustCompile(`(?m)^number of failed transactions: ([0-9]+)`)
	reConn   = regexp.MustCompile(`(?m)^average connection time = ([0-9.]+) ms`)
)

// parseSummary reads TPS and transaction counts from pgbench's output. A
// run that completed no transaction is an error.
func parseSummary(out string) (pgbenchSummary, error) {
	var s pgbenchSummary
	m := reTxns.FindStringSubmatch(out)
	if m == nil {
		return s, errors.New(`no "number of transactions actually processed" line`)
	}
	txns, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		return s, fmt.Errorf("parse transactions %q: %w", m[1], err)
	}
	if txns == 0 {
		return s, errors.New("no transaction completed (did connecting take longer than -duration?)")
	}
	m = reTPS.FindStringSubmatch(out)
	if m == nil {
		return s, errors.New(`no "tps = … (without initial connection time)" line`)
	}
	tps, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return s, fmt.Errorf("parse tps %q: %w", m[1], err)
	}
	s.TPS, s.Txns = tps, txns
	if m := reFailed.FindStringSubmatch(out); m != nil {
		if s.Failed, err = strconv.ParseInt(m[1], 10, 64); err != nil {
			return s, fmt.Errorf("parse failed transactions %q: %w", m[1], err)
		}
	}
	if m := reConn.FindStringSubmatch(out); m != nil {
		ms, err := strconv.ParseFloat(m[1], 64)
		if err != nil {
			return s, fmt.Errorf("parse connection time %q: %w", m[1], err)
		}
		s.ConnectUS = ms * 1000
	}
	return s, nil
}

// readLatencies reads every per-transaction log of a run (prefix.<pid> and,
// with -j, prefix.<pid>.<thread>) and returns the latencies sorted.
func readLatencies(prefix string) ([]int64, error) {
	files, err := filepath.Glob(prefix + ".*")
	if err != nil {
		return nil, fmt.Errorf("find pgbench logs: %w", err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no pgbench log files %s.*", prefix)
	}
	var lat []int64
	for _, path := range files {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("open pgbench log: %w", err)
		}
		lat, err = parseLogLatencies(f, lat)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("pgbench log %s: %w", filepath.Base(path), err)
		}
	}
	if len(lat) == 0 {
		return nil, fmt.Errorf("pgbench logs %s.* hold no successful transaction", prefix)
	}
	slices.Sort(lat)
	return lat, nil
}

// parseLogLatencies appends the latency in µs of each line of a pgbench
// per-transaction log to dst. A line is
//
//	client_id transaction_no time script_no time_epoch time_us [schedule_lag] [retries]
//
// where time is the latency in µs, or "failed"/"skipped" (not counted).
func parseLogLatencies(r io.Reader, dst []int64) ([]int64, error) {
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		f := fieldN(line, 2)
		if f == nil {
			return dst, fmt.Errorf("line %d: %q has fewer than 3 fields", n, line)
		}
		if f[0] < '0' || f[0] > '9' {
			continue // failed or skipped transaction
		}
		v, err := strconv.ParseInt(string(f), 10, 64)
		if err != nil {
			return dst, fmt.Errorf("line %d: latency %q: %w", n, f, err)
		}
		dst = append(dst, v)
	}
	if err := sc.Err(); err != nil {
		return dst, fmt.Errorf("read: %w", err)
	}
	return dst, nil
}

// fieldN returns the i-th (0-based) space-separated field of line, or nil.
func fieldN(line []byte, i int) []byte {
	for f := range bytes.FieldsSeq(line) {
		if i == 0 {
			return f
		}
		i--
	}
	return nil
}

// percentile is the nearest-rank q-quantile of sorted values, NaN if empty.
func percentile(sorted []int64, q float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return float64(sorted[min(max(i, 0), len(sorted)-1)])
}

func removeLogs(prefix string) {
	files, _ := filepath.Glob(prefix + ".*")
	for _, f := range files {
		_ = os.Remove(f)
	}
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
