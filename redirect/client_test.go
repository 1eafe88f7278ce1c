package redirect

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/netip"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"

	"github.com/interlock-dev/interlock/testenv"
)

// client is a helper process holding one connection.
type client struct {
	resp     helperResp
	stdin    interface{ Close() error }
	cmd      *exec.Cmd
	stderr   *bytes.Buffer
	waitOnce sync.Once
	waitErr  error
}

// clientOpts says where and as whom a client runs.
type clientOpts struct {
	cg   *testenv.Cgroup     // nil: outside the test cgroup
	cred *syscall.Credential // nil: root
}

// startClient runs a client process and waits for its report.
func startClient(t testing.TB, o clientOpts, req helperReq) *client {
	t.Helper()
	raw, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*waitFor)
	cmd := exec.CommandContext(ctx, clientBin)
	cmd.Env = append(os.Environ(), helperEnv+"="+string(raw))
	cmd.Dir = "/"
	cmd.WaitDelay = waitFor
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: o.cred}
	if o.cg != nil {
		o.cg.Apply(cmd)
	}
	c := &client{cmd: cmd, stderr: new(bytes.Buffer)}
	cmd.Stderr = c.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	c.stdin = stdin
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start client: %v", err)
	}
	t.Cleanup(func() {
		c.close()
		cancel()
	})
	line, err := bufio.NewReader(stdout).ReadBytes('\n')
	if err != nil {
		t.Fatalf("client report: %v (stderr: %s)", err, c.stderr)
	}
	if err := json.Unmarshal(line, &c.resp); err != nil {
		t.Fatalf("client report %q: %v", line, err)
	}
	return c
}

// close ends the client: it closes its connection and exits.
func (c *client) close() error {
	c.stdin.Close()
	return c.wait()
}

// wait waits for the client process to exit.
func (c *client) wait() error {
	c.waitOnce.Do(func() { c.waitErr = c.cmd.Wait() })
	return c.waitErr
}

// connect runs a client that connects once and returns its report; the
// connection stays open until the test ends.
func connect(t testing.TB, o clientOpts, family int, dst netip.AddrPort) *client {
	t.Helper()
	return startClient(t, o, helperReq{Mode: "connect", Family: family, Addr: dst.String()})
}
