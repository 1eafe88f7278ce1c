package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/interlock-dev/interlock/daemon/approval"
)

// runApprove implements `interlock approve ID [--comment TEXT] [--socket PATH]`.
// The daemon enforces the rules: you are logged in, in an approver group
// of the request, and not its requester.
func runApprove(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, socket := newFlags("approve", "ID [--comment TEXT] [--socket PATH]", stderr)
	comment := fs.String("comment", "", "a comment for the audit record")
	id, ok := parseID(fs, args)
	if !ok {
		return exitUsage
	}
	c := approval.NewControlClient(socketPath(*socket))
	defer c.Close()
	r, err := c.Approve(ctx, id, *comment)
	if err != nil {
		return failRequest(stderr, "approve", err)
	}
	fmt.Fprintf(stdout, "Approved request %s by %s on %s/%s:\n", r.ID, r.Requester.Subject, r.Endpoint, r.Database)
	printStatement(stdout, r)
	fmt.Fprintf(stdout, "It may run once, as approved, until %s.\n", r.ExpiresAt.Local().Format(time.DateTime+" MST"))
	return exitOK
}

// runReject implements `interlock reject ID --reason TEXT [--socket PATH]`.
// Rejecting your own request withdraws it.
func runReject(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, socket := newFlags("reject", "ID --reason TEXT [--socket PATH]", stderr)
	reason := fs.String("reason", "", "why (required; goes into the audit record)")
	id, ok := parseID(fs, args)
	if !ok {
		return exitUsage
	}
	if strings.TrimSpace(*reason) == "" {
		fmt.Fprintln(stderr, "interlock reject: --reason is required")
		fs.Usage()
		return exitUsage
	}
	c := approval.NewControlClient(socketPath(*socket))
	defer c.Close()
	r, err := c.Reject(ctx, id, *reason)
	if err != nil {
		return failRequest(stderr, "reject", err)
	}
	if r.State == approval.StateWithdrawn {
		fmt.Fprintf(stdout, "Withdrew your request %s.\n", r.ID)
	} else {
		fmt.Fprintf(stdout, "Rejected request %s by %s.\n", r.ID, r.Requester.Subject)
	}
	return exitOK
}

// printStatement shows what was approved: the exact text and parameters.
func printStatement(w io.Writer, r *approval.Request) {
	for _, line := range strings.Split(r.Statement, "\n") {
		fmt.Fprintf(w, "  %s\n", line)
	}
	if p := r.Params.Describe(256); p != "" {
		fmt.Fprintf(w, "  parameters: %s\n", p)
	}
}

// parseID parses flags around exactly one positional argument, the
// request id, which may come before or after the flags.
func parseID(fs *flag.FlagSet, args []string) (string, bool) {
	if err := fs.Parse(args); err != nil {
		return "", false
	}
	if fs.NArg() == 0 {
		fmt.Fprintf(fs.Output(), "%s: the request id is required\n", fs.Name())
		fs.Usage()
		return "", false
	}
	id := fs.Arg(0)
	if err := fs.Parse(fs.Args()[1:]); err != nil {
		return "", false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "%s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		fs.Usage()
		return "", false
	}
	return id, true
}
