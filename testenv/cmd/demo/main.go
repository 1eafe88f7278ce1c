// Command demo is `make demo`: it starts a throwaway PostgreSQL with sample
// data, a development OIDC issuer and interlockd, runs a scripted psql
// session through Interlock, and cleans everything up (also on Ctrl-C).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	d := &demo{}
	err := d.run(ctx)
	if cerr := d.cleanup(); cerr != nil {
		fmt.Fprintf(os.Stderr, "demo: cleanup: %v\n", cerr)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "demo: %v\n", err)
		os.Exit(1)
	}
}
