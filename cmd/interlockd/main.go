// Command interlockd is the Interlock host agent: a policy-enforcing
// PostgreSQL proxy. See the README for configuration.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/interlock-dev/interlock/daemon"
	"github.com/interlock-dev/interlock/daemon/config"
	"github.com/interlock-dev/interlock/redirect"
)

func main() {
	os.Exit(run())
}

func run() int {
	configPath := flag.String("config", "/etc/interlock/interlockd.yaml", "configuration file")
	checkOnly := flag.Bool("check-config", false, "validate the configuration and exit")
	uninstall := flag.Bool("uninstall", false, "remove the eBPF programs, links and pinned maps, then exit")
	pinDir := flag.String("pin-dir", config.DefaultPinDir, "with -uninstall: the pin directory (when no config file is readable)")
	logLevel := flag.String("log-level", "info", "log level: debug, info, warn, error")
	logJSON := flag.Bool("log-json", false, "log as JSON lines")
	flag.Parse()

	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(os.Stderr, "interlockd: -log-level: %v\n", err)
		return 2
	}
	hopts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(os.Stderr, hopts)
	if *logJSON {
		h = slog.NewJSONHandler(os.Stderr, hopts)
	}
	log := slog.New(h)

	if *uninstall {
		dir := *pinDir
		if cfg, err := config.Load(*configPath); err == nil {
			dir = cfg.Redirect.PinDir
		}
		if err := redirect.Uninstall(context.Background(), dir); err != nil {
			fmt.Fprintf(os.Stderr, "interlockd: uninstall: %v\n", err)
			return 1
		}
		fmt.Printf("removed Interlock's eBPF programs and pins from %s: protected endpoints are no longer enforced\n", dir)
		return 0
	}
	cfg, err := config.Load(*configPath)
	if err != nil {
		fmt.Fprintf(os.Stderr, "interlockd: %v\n", err)
		return 2
	}
	if *checkOnly {
		fmt.Printf("%s: configuration is valid\n", *configPath)
		return 0
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := daemon.Run(ctx, cfg, daemon.Options{Logger: log, ConfigPath: *configPath}); err != nil {
		log.Error("interlockd failed", "err", err)
		return 1
	}
	return 0
}
