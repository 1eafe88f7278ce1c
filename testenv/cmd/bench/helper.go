package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Helper subcommands: the bench re-executes itself for code that must run
// in another process, e.g. inside the redirect's cgroup. They are not
// meant to be run by hand.
const (
	// helperBulkSend ADDR DURATION connects to ADDR, writes for DURATION
	// and prints how many bytes it wrote.
	helperBulkSend = "internal-bulk-send"
	// helperProbe connects to $BENCH_PROBE_DSN and prints current_user.
	helperProbe = "internal-probe"
	probeDSNEnv = "BENCH_PROBE_DSN"
	// helperRelay LISTEN UPSTREAM is the go-relay target's process (see
	// relay.go).
	helperRelay = "internal-relay"
)

// bulkChunk is the size of each write of the bulk sender.
const bulkChunk = 256 << 10

// runHelper runs the helper subcommand args name; ok is false when args
// name none.
func runHelper(args []string, stdout, stderr io.Writer) (code int, ok bool) {
	if len(args) == 0 {
		return 0, false
	}
	var err error
	switch args[0] {
	case helperBulkSend:
		err = bulkSend(args[1:], stdout)
	case helperProbe:
		err = probe(os.Getenv(probeDSNEnv), stdout)
	case helperRelay:
		err = runRelay(args[1:])
	default:
		return 0, false
	}
	if err != nil {
		fmt.Fprintf(stderr, "bench %s: %v\n", args[0], err)
		return 1, true
	}
	return 0, true
}

func bulkSend(args []string, stdout io.Writer) error {
	if len(args) != 2 {
		return errors.New("usage: " + helperBulkSend + " ADDR DURATION")
	}
	d, err := time.ParseDuration(args[1])
	if err != nil {
		return err
	}
	c, err := net.Dial("tcp", args[0])
	if err != nil {
		return err
	}
	buf := make([]byte, bulkChunk)
	var total int64
	for deadline := time.Now().Add(d); time.Now().Before(deadline); {
		n, err := c.Write(buf)
		total += int64(n)
		if err != nil {
			c.Close()
			return fmt.Errorf("write after %d bytes: %w", total, err)
		}
	}
	if err := c.Close(); err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, total)
	return err
}

func probe(dsn string, stdout io.Writer) error {
	if dsn == "" {
		return errors.New(probeDSNEnv + " is not set")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	var user string
	if err := conn.QueryRow(ctx, "SELECT current_user").Scan(&user); err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, user)
	return err
}

// helperCommand runs the bench's own executable with a helper subcommand.
func helperCommand(ctx context.Context, args ...string) (*exec.Cmd, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find own executable: %w", err)
	}
	cmd := exec.CommandContext(ctx, self, args...)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LC_ALL=C"}
	killGroup(cmd)
	return cmd, nil
}

// probeRedirect connects from inside the target's cgroup to PostgreSQL's
// address with the token as the password: only interlockd accepts that, so
// success shows the redirect works.
func probeRedirect(ctx context.Context, st *stack, t *target) error {
	cmd, err := helperCommand(ctx, helperProbe)
	if err != nil {
		return err
	}
	cmd.Env = append(cmd.Env, probeDSNEnv+"="+t.dsn())
	if err := t.Prepare(cmd); err != nil {
		return err
	}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("connect through the redirect to %s:%d: %w: %s; interlockd log:\n%s",
			t.Host, t.Port, err, strings.TrimSpace(errOut.String()), logTail(st.ild.logPath, 10))
	}
	if got := strings.TrimSpace(out.String()); got != t.User {
		return fmt.Errorf("connect through the redirect: current_user %q, want %q", got, t.User)
	}
	return nil
}

// parseBytes reads the bulk sender's output.
func parseBytes(out string) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(out), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("bulk sender output %q: %w", out, err)
	}
	return n, nil
}
