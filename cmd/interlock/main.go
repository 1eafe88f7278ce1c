// Command interlock is Interlock's command-line tool.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"

	"github.com/interlock-dev/interlock/daemon/audit"
)

const usage = `usage: interlock <command> [arguments]

commands:
  login [--device] [--no-browser]       log in with the identity provider; binds your uid to you
  status [--json]                       show who you are logged in as
  logout                                end your session
  requests [--json] [--all]             list approval requests you may see
  approve ID [--comment TEXT]           approve a held statement (not your own)
  reject ID --reason TEXT               reject a held statement (your own: withdraw it)
  alerts [--follow] [--json]            bypass alerts (root or the admin group)
  audit verify FILE... [--pubkey KEY]   verify an audit chain (exit 1 on tampering)
  replay SESSION_ID [--audit FILE|DIR]  show a session as it happened: statements, decisions, approvals, results

login, status, logout, requests, approve, reject and alerts talk to interlockd's socket: --socket PATH, or
INTERLOCK_SOCKET, default /run/interlock/interlockd.sock.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	switch {
	case args[0] == "login":
		return runLogin(ctx, args[1:], stdout, stderr)
	case args[0] == "status":
		return runStatus(ctx, args[1:], stdout, stderr)
	case args[0] == "logout":
		return runLogout(ctx, args[1:], stdout, stderr)
	case args[0] == "requests":
		return runRequests(ctx, args[1:], stdout, stderr)
	case args[0] == "approve":
		return runApprove(ctx, args[1:], stdout, stderr)
	case args[0] == "reject":
		return runReject(ctx, args[1:], stdout, stderr)
	case args[0] == "alerts":
		return runAlerts(ctx, args[1:], stdout, stderr)
	case args[0] == "replay":
		return runReplay(ctx, args[1:], stdout, stderr)
	case args[0] == "audit" && len(args) > 1 && args[1] == "verify":
		return audit.RunVerify(ctx, args[2:], stdout, stderr)
	case args[0] == "help" || args[0] == "-h" || args[0] == "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	fmt.Fprintf(stderr, "interlock: unknown command %q\n%s", args[0], usage)
	return exitUsage
}
