package main

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// pgbench 15 output of a -T run and of a -C run.
const (
	pgbenchOut = `pgbench (15.18 (Debian 15.18-0+deb12u1))
transaction type: <builtin: select only>
scaling factor: 1
query mode: simple
number of clients: 4
number of threads: 2
maximum number of tries: 1
duration: 10 s
number of transactions actually processed: 354321
number of failed transactions: 3 (0.001%)
latency average = 0.112 ms
initial connection time = 12.345 ms
tps = 35432.123456 (without initial connection time)
`
	pgbenchConnectOut = `pgbench (15.18 (Debian 15.18-0+deb12u1))
transaction type: <builtin: select only>
number of transactions actually processed: 7801/8000
latency average = 5.123 ms
average connection time = 2.301 ms
tps = 780.100000 (including reconnection times)
`
	pgbenchZeroOut = `pgbench (15.18 (Debian 15.18-0+deb12u1))
duration: 2 s
number of transactions actually processed: 0
number of failed transactions: 0 (NaN%)
`
)

func TestParseSummary(t *testing.T) {
	tests := []struct {
		name    string
		out     string
		want    pgbenchSummary
		wantErr string
	}{
		{"run", pgbenchOut, pgbenchSummary{TPS: 35432.123456, Txns: 354321, Failed: 3}, ""},
		{"connect", pgbenchConnectOut, pgbenchSummary{TPS: 780.1, Txns: 7801, ConnectUS: 2301}, ""},
		{"no transactions", pgbenchZeroOut, pgbenchSummary{}, "no transaction completed"},
		{"no tps", strings.Replace(pgbenchOut, "tps =", "tps:", 1), pgbenchSummary{}, "no \"tps"},
		{"tps of a script, not the total", "number of transactions actually processed: 5\n - 5 transactions (100.0% of total, tps = 9.0)\n", pgbenchSummary{}, "no \"tps"},
		{"no count", "tps = 1.0 (without initial connection time)\n", pgbenchSummary{}, "actually processed"},
		{"empty", "", pgbenchSummary{}, "actually processed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseSummary(tt.out)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseSummary: got err %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseSummary: %v", err)
			}
			if math.Abs(got.ConnectUS-tt.want.ConnectUS) < 1e-6 {
				got.ConnectUS = tt.want.ConnectUS // parsed from milliseconds
			}
			if got != tt.want {
				t.Errorf("parseSummary: got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseLogLatencies(t *testing.T) {
	tests := []struct {
		name    string
		log     string
		want    []int64
		wantErr string
	}{
		{"plain", "0 1 85 0 1732790000 123456\n1 1 91 0 1732790000 123500\n", []int64{85, 91}, ""},
		{"extra columns (lag, retries)", "0 1 210 0 1732790000 1 15 0\n", []int64{210}, ""},
		{"failed and skipped are not counted", "0 1 failed 0 1732790000 1\n0 2 skipped 0 1732790000 2\n0 3 77 0 1732790000 3\n", []int64{77}, ""},
		{"blank lines", "\n0 1 5 0 1 2\n\n", []int64{5}, ""},
		{"empty", "", nil, ""},
		{"short line", "0 1\n", nil, "fewer than 3 fields"},
		{"bad latency", "0 1 8x 0 1 2\n", nil, "latency"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseLogLatencies(strings.NewReader(tt.log), nil)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got err %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// TestReadLatencies reads the main log and a -j thread's log of one run
// and ignores another run's files.
func TestReadLatencies(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"select-simple-direct-r1.4242":   "0 1 300 0 1 1\n0 2 100 0 1 2\n",
		"select-simple-direct-r1.4242.1": "2 1 200 0 1 1\n",
		"select-simple-direct-r2.4343":   "0 1 999 0 1 1\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	got, err := readLatencies(filepath.Join(dir, "select-simple-direct-r1"))
	if err != nil {
		t.Fatal(err)
	}
	if want := []int64{100, 200, 300}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v (sorted, both thread logs, not r2)", got, want)
	}
	if _, err := readLatencies(filepath.Join(dir, "missing")); err == nil {
		t.Error("readLatencies of a run without logs: got nil error")
	}
	if err := os.WriteFile(filepath.Join(dir, "allfailed.1"), []byte("0 1 failed 0 1 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := readLatencies(filepath.Join(dir, "allfailed")); err == nil {
		t.Error("readLatencies of logs without a successful transaction: got nil error")
	}
}

func TestPercentile(t *testing.T) {
	hundred := make([]int64, 100)
	for i := range hundred {
		hundred[i] = int64(i + 1)
	}
	tests := []struct {
		name   string
		sorted []int64
		q      float64
		want   float64
	}{
		{"p50 of 1..100", hundred, 0.50, 50},
		{"p99 of 1..100", hundred, 0.99, 99},
		{"p100", hundred, 1, 100},
		{"p0 is the minimum", hundred, 0, 1},
		{"single", []int64{7}, 0.99, 7},
		{"p50 of three", []int64{1, 2, 30}, 0.5, 2},
		{"p99 of three is the maximum", []int64{1, 2, 30}, 0.99, 30},
	}
	for _, tt := range tests {
		if got := percentile(tt.sorted, tt.q); got != tt.want {
			t.Errorf("%s: percentile(q=%v) = %v, want %v", tt.name, tt.q, got, tt.want)
		}
	}
	if got := percentile(nil, 0.5); !math.IsNaN(got) {
		t.Errorf("percentile(nil) = %v, want NaN", got)
	}
}

func TestPerTxn(t *testing.T) {
	r := runResult{Txns: 200000}
	if got := r.perTxn(5e9); got != 25 { // 5 s of CPU over 200k transactions
		t.Errorf("perTxn = %v µs, want 25", got)
	}
	if got := (runResult{}).perTxn(5e9); !math.IsNaN(got) {
		t.Errorf("perTxn without transactions = %v, want NaN", got)
	}
}
