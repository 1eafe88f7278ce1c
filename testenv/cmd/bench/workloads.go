package main

import (
	"fmt"
	"strings"
)

// workload is one pgbench configuration, run against every target.
type workload struct {
	// Name is used on the command line and in the report.
	Name string
	// Args are pgbench options other than the connection, -T, -n and --log,
	// e.g. "-S", "-M", "simple", "-c4", "-j2".
	Args []string
	// Script, when set, is written to a file passed with -f (a custom
	// transaction such as a query returning many rows).
	Script string
	// BytesPerTxn, when positive, makes the report add a throughput column
	// in MB/s (TPS × BytesPerTxn); set it for wide-result workloads.
	BytesPerTxn int64
	// Default workloads run when -workloads is not given.
	Default bool
	// About is a short description for the report.
	About string
}

// workloads is the table of known workloads, in report order.
var workloads = []workload{
	{
		Name: "select-simple", Args: []string{"-S", "-M", "simple", "-c4", "-j2"}, Default: true,
		About: "pgbench -S, simple query protocol, 4 clients",
	},
	{
		Name: "select-prepared", Args: []string{"-S", "-M", "prepared", "-c4", "-j2"}, Default: true,
		About: "pgbench -S, prepared statements, 4 clients",
	},
	{
		Name: "select-latency", Args: []string{"-S", "-c1", "-j1"}, Default: true,
		About: "pgbench -S, 1 client: latency",
	},
	{
		// pgbench -C reports "tps (including reconnection times)": each
		// transaction pays connect, startup (token check for interlockd),
		// one SELECT and Terminate.
		Name: "select-connect", Args: []string{"-S", "-C", "-c4", "-j2"},
		About: "pgbench -S -C, a new connection per transaction, 4 clients",
	},
}

// commandLine is the pgbench option string shown in the report.
func (w workload) commandLine() string {
	s := "pgbench " + strings.Join(w.Args, " ")
	if w.Script != "" {
		s += " -f " + w.Name + ".sql"
	}
	return s
}

// defaultWorkloadNames are the names of the Default workloads.
func defaultWorkloadNames() []string {
	var out []string
	for _, w := range workloads {
		if w.Default {
			out = append(out, w.Name)
		}
	}
	return out
}

// selectWorkloads returns the named workloads in the order given.
func selectWorkloads(names []string) ([]workload, error) {
	out := make([]workload, 0, len(names))
	for _, n := range names {
		w, ok := findWorkload(n)
		if !ok {
			return nil, fmt.Errorf("unknown workload %q (known: %s)", n, strings.Join(workloadNames(), ", "))
		}
		out = append(out, w)
	}
	return out, nil
}

func findWorkload(name string) (workload, bool) {
	for _, w := range workloads {
		if w.Name == name {
			return w, true
		}
	}
	return workload{}, false
}

func workloadNames() []string {
	out := make([]string, len(workloads))
	for i, w := range workloads {
		out[i] = w.Name
	}
	return out
}
