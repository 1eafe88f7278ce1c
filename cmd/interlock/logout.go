package main

import (
	"context"
	"fmt"
	"io"

	"github.com/interlock-dev/interlock/daemon/control"
)

// runLogout implements `interlock logout [--socket PATH]`. Logging out
// without a session is not an error.
func runLogout(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, socket := newFlags("logout", "[--socket PATH]", stderr)
	if !parse(fs, args) {
		return exitUsage
	}
	c := control.NewClient(socketPath(*socket))
	defer c.Close()
	ended, err := c.Logout(ctx)
	if err != nil {
		return fail(stderr, "logout", err)
	}
	if ended {
		fmt.Fprintln(stdout, "Logged out.")
	} else {
		fmt.Fprintln(stdout, "Not logged in.")
	}
	return exitOK
}
