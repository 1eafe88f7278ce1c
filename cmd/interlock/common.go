package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/interlock-dev/interlock/daemon/control"
)

// Exit codes of login, status and logout (audit verify has its own).
const (
	exitOK          = 0 // done
	exitFailed      = 1 // the daemon or the identity provider refused or could not be reached
	exitUsage       = 2 // bad arguments
	exitNotLoggedIn = 3 // status: there is no session for your uid
)

// newFlags returns a flag set for a subcommand with the common --socket.
func newFlags(name, synopsis string, stderr io.Writer) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet("interlock "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	socket := fs.String("socket", "", "interlockd's control socket (default $"+control.SocketEnv+" or "+control.DefaultSocketPath+")")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: interlock %s %s\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs, socket
}

// parse parses args and rejects positional arguments.
func parse(fs *flag.FlagSet, args []string) bool {
	if err := fs.Parse(args); err != nil {
		return false // flag printed the error and usage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "%s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		fs.Usage()
		return false
	}
	return true
}

// socketPath is --socket, else $INTERLOCK_SOCKET, else the default.
func socketPath(flagValue string) string {
	if flagValue != "" {
		return flagValue
	}
	if v := os.Getenv(control.SocketEnv); v != "" {
		return v
	}
	return control.DefaultSocketPath
}

// fail prints err as one line and returns exitFailed.
func fail(stderr io.Writer, cmd string, err error) int {
	msg := strings.ReplaceAll(err.Error(), "\n", " ")
	fmt.Fprintf(stderr, "interlock %s: %s\n", cmd, msg)
	return exitFailed
}

// describeExpiry is "2026-03-01 12:00:00 CET (in 4m59s)".
func describeExpiry(exp time.Time) string {
	s := exp.Local().Format("2006-01-02 15:04:05 MST")
	if d := time.Until(exp).Round(time.Second); d > 0 {
		return s + " (in " + d.String() + ")"
	}
	return s + " (expired)"
}
