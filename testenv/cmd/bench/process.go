package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// child is a long-running process we started (pgbouncer, interlockd). Its
// output goes to a log file; it runs in its own process group so a
// terminal's Ctrl-C reaches only us and we stop it in order.
type child struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{}
	waitErr error

	closeOnce sync.Once
	closeErr  error
}

const childStopTimeout = 10 * time.Second

// startChild starts cmd with its stdout and stderr in logPath.
func startChild(name string, cmd *exec.Cmd, logPath string) (*child, error) {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open %s log: %w", name, err)
	}
	defer f.Close() // the child holds its own descriptor
	cmd.Stdout, cmd.Stderr = f, f
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	c := &child{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		c.waitErr = cmd.Wait()
		close(c.done)
	}()
	return c, nil
}

// PID is the process id.
func (c *child) PID() int { return c.cmd.Process.Pid }

// exited returns nil while the process runs, else an error with how it
// ended and the tail of its log.
func (c *child) exited() error {
	select {
	case <-c.done:
		return fmt.Errorf("%s exited (%v); log %s:\n%s", c.name, c.waitErr, c.logPath, logTail(c.logPath, 20))
	default:
		return nil
	}
}

// Close stops the process with SIGTERM, then SIGKILL after a timeout. It is
// safe to call twice.
func (c *child) Close() error {
	c.closeOnce.Do(func() {
		select {
		case <-c.done:
			return // already gone; exited() reports how
		default:
		}
		if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
			c.closeErr = fmt.Errorf("stop %s: %w", c.name, err)
		}
		select {
		case <-c.done:
			return
		case <-time.After(childStopTimeout):
		}
		if err := c.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
			c.closeErr = errors.Join(c.closeErr, fmt.Errorf("kill %s: %w", c.name, err))
		}
		<-c.done
	})
	return c.closeErr
}

// waitConnectable polls until a PostgreSQL connection to dsn answers a
// ping, failing early when c exits.
func waitConnectable(ctx context.Context, c *child, dsn string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		err := pingOnce(ctx, dsn)
		if err == nil {
			return nil
		}
		if exitErr := c.exited(); exitErr != nil {
			return exitErr
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for %s: %w (last error: %v); log %s:\n%s", c.name, ctx.Err(), err, c.logPath, logTail(c.logPath, 20))
		case <-tick.C:
		}
	}
}

func pingOnce(ctx context.Context, dsn string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	return conn.Ping(ctx)
}

// logTail returns up to the last n lines of the file at path.
func logTail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(read %s: %v)", path, err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// killGroup makes an exec.Cmd started with Setpgid end its whole process
// group when its context is cancelled (go test's test binaries, pgbench).
func killGroup(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	cmd.WaitDelay = 5 * time.Second
}
