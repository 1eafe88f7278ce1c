package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/interlock-dev/interlock/daemon/alerts"
)

// runAlerts implements `interlock alerts [--follow] [--json] [--limit N]`:
// the latest bypass alerts, and with --follow new ones as they come. Only
// root and the configured admin group may read them.
func runAlerts(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, socket := newFlags("alerts", "[--follow] [--json] [--limit N] [--socket PATH]", stderr)
	follow := fs.Bool("follow", false, "keep printing new alerts until interrupted")
	asJSON := fs.Bool("json", false, "print one JSON object per alert")
	limit := fs.Int("limit", 50, "how many recent alerts to show first")
	if !parse(fs, args) {
		return exitUsage
	}
	c := alerts.NewClient(socketPath(*socket))
	defer c.Close()
	enc := json.NewEncoder(stdout)
	print := func(a alerts.Alert) error {
		if *asJSON {
			return enc.Encode(a)
		}
		fmt.Fprintln(stdout, alertLine(a))
		return nil
	}
	if *follow {
		err := c.Follow(ctx, *limit, print)
		if err != nil && ctx.Err() == nil {
			return fail(stderr, "alerts", err)
		}
		return exitOK
	}
	resp, err := c.List(ctx, *limit)
	if err != nil {
		return fail(stderr, "alerts", err)
	}
	if *asJSON {
		for _, a := range resp.Alerts {
			_ = enc.Encode(a)
		}
		return exitOK
	}
	if len(resp.Alerts) == 0 {
		fmt.Fprintln(stdout, "No bypass alerts.")
		return exitOK
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tKIND\tACTION\tCOUNT\tPROCESS\tUID\tDESTINATION\tCGROUP")
	for _, a := range resp.Alerts {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", a.Time.Local().Format("15:04:05"), a.Kind, a.Action, a.Count,
			process(a), uid(a), a.Destination, a.Cgroup)
	}
	tw.Flush()
	return exitOK
}

func alertLine(a alerts.Alert) string {
	return strings.Join([]string{a.Time.Local().Format("2006-01-02 15:04:05"), string(a.Kind), string(a.Action),
		"count=" + strconv.FormatUint(a.Count, 10), "process=" + process(a), "uid=" + uid(a),
		"dst=" + a.Destination, "cgroup=" + a.Cgroup}, " ")
}

func process(a alerts.Alert) string {
	name := a.Comm
	if a.Exe != "" {
		name = a.Exe
	}
	if name == "" {
		name = "?"
	}
	return name + "[" + strconv.FormatUint(uint64(a.PID), 10) + "]"
}

func uid(a alerts.Alert) string {
	if a.UID == nil {
		return "?"
	}
	return strconv.FormatUint(uint64(*a.UID), 10)
}
