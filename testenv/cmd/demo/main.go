// Command demo is `make demo`: as root, it starts a throwaway PostgreSQL
// with sample data, a local OIDC issuer and interlockd with the eBPF
// redirect and the bypass guard, logs in two people, and runs a scripted
// session against the database's real address that shows the whole
// mission. It cleans up everything it started, also on Ctrl-C.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func main() {
	if addr, ok := strings.CutPrefix(os.Getenv(rawEnv), "syn:"); ok {
		os.Exit(rawSYN(addr)) // a child process playing the attacker
	}
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
