package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/interlock-dev/interlock/daemon/approval"
	"github.com/interlock-dev/interlock/daemon/control"
)

// runRequests implements `interlock requests [--json] [--all] [--socket PATH]`:
// the approval requests the caller may see (their own, those of groups
// they approve for; every request for root).
func runRequests(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, socket := newFlags("requests", "[--json] [--all] [--socket PATH]", stderr)
	asJSON := fs.Bool("json", false, "print the requests as JSON, statements and parameters in full")
	all := fs.Bool("all", false, "include decided requests still kept by interlockd")
	if !parse(fs, args) {
		return exitUsage
	}
	c := approval.NewControlClient(socketPath(*socket))
	defer c.Close()
	rs, err := c.List(ctx, *all)
	if err != nil {
		return failRequest(stderr, "requests", err)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(approval.ListResponse{Requests: rs}); err != nil {
			return fail(stderr, "requests", err)
		}
		return exitOK
	}
	if len(rs) == 0 {
		if *all {
			fmt.Fprintln(stdout, "No approval requests.")
		} else {
			fmt.Fprintln(stdout, "No pending approval requests.")
		}
		return exitOK
	}
	printRequests(stdout, rs, *all, time.Now())
	return exitOK
}

// printRequests writes the table: id, age, requester, origin, endpoint,
// statement and reason (cut to fit), and the state with --all.
func printRequests(w io.Writer, rs []*approval.Request, withState bool, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	head := "ID\tAGE\tREQUESTER\tORIGIN\tENDPOINT\tSTATEMENT\tREASON"
	if withState {
		head = "ID\tSTATE\tAGE\tREQUESTER\tORIGIN\tENDPOINT\tSTATEMENT\tREASON"
	}
	fmt.Fprintln(tw, head)
	for _, r := range rs {
		cols := []string{r.ID}
		if withState {
			cols = append(cols, string(r.State))
		}
		cols = append(cols, now.Sub(r.CreatedAt).Round(time.Second).String(), r.Requester.Subject,
			originSummary(r), r.Endpoint+"/"+r.Database, cut(r.Statement, 60), cut(r.Reason, 40))
		fmt.Fprintln(tw, strings.Join(cols, "\t"))
	}
	tw.Flush()
}

// originSummary is "psql[4242] uid 1000 @node".
func originSummary(r *approval.Request) string {
	s := ""
	if o := r.Requester.Origin; o != nil && (o.PID != 0 || o.Comm != "") {
		s = o.Comm + "[" + strconv.Itoa(o.PID) + "] uid " + strconv.Itoa(o.UID) + " "
	}
	return s + "@" + r.Node
}

// cut collapses whitespace and cuts s to n runes.
func cut(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// failRequest is fail, with exitNotLoggedIn when the daemon needs a session.
func failRequest(stderr io.Writer, cmd string, err error) int {
	var ae *control.APIError
	if errors.As(err, &ae) && ae.Code == control.CodeNoSession {
		fmt.Fprintf(stderr, "interlock %s: %s\n", cmd, strings.ReplaceAll(ae.Error(), "\n", " "))
		return exitNotLoggedIn
	}
	return fail(stderr, cmd, err)
}
