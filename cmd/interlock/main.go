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
  audit verify FILE... [--pubkey KEY]   verify an audit chain (exit 1 on tampering)
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch {
	case args[0] == "audit" && len(args) > 1 && args[1] == "verify":
		return audit.RunVerify(ctx, args[2:], stdout, stderr)
	case args[0] == "help" || args[0] == "-h" || args[0] == "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "interlock: unknown command %q\n%s", args[0], usage)
	return 2
}
