package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/interlock-dev/interlock/daemon/control"
)

// runStatus implements `interlock status [--json] [--socket PATH]`.
func runStatus(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, socket := newFlags("status", "[--json] [--socket PATH]", stderr)
	asJSON := fs.Bool("json", false, "print the session as JSON")
	if !parse(fs, args) {
		return exitUsage
	}
	c := control.NewClient(socketPath(*socket))
	defer c.Close()
	sess, err := c.Session(ctx)
	if errors.Is(err, control.ErrNoSession) {
		fmt.Fprintln(stderr, "interlock status: not logged in: run `interlock login`")
		return exitNotLoggedIn
	}
	if err != nil {
		return fail(stderr, "status", err)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(sess); err != nil {
			return fail(stderr, "status", err)
		}
		return exitOK
	}
	printSession(stdout, sess)
	return exitOK
}

// printSession writes a session for people.
func printSession(w io.Writer, s *control.SessionResponse) {
	who := s.Subject
	if s.Email != "" {
		who += " <" + s.Email + ">"
	}
	fmt.Fprintf(w, "Logged in as %s\n", who)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	groups := strings.Join(s.Groups, ", ")
	if groups == "" {
		groups = "(none)"
	}
	refresh := "off: log in again before the session expires"
	if s.AutoRefresh {
		refresh = "on: interlockd renews the session before it expires"
	}
	fmt.Fprintf(tw, "  subject:\t%s\n", s.Subject)
	fmt.Fprintf(tw, "  email:\t%s\n", s.Email)
	fmt.Fprintf(tw, "  groups:\t%s\n", groups)
	fmt.Fprintf(tw, "  issuer:\t%s\n", s.Issuer)
	fmt.Fprintf(tw, "  uid:\t%d\n", s.UID)
	fmt.Fprintf(tw, "  expires:\t%s\n", describeExpiry(s.Expiry))
	fmt.Fprintf(tw, "  auto-refresh:\t%s\n", refresh)
	tw.Flush()
}
