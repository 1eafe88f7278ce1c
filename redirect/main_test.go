package redirect

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// helperEnv carries a helperReq: the test binary then acts as a client process.
const helperEnv = "INTERLOCK_REDIRECT_HELPER"

// clientComm is the name of the copied test binary, hence the clients' comm.
const clientComm = "ilclient"

// clientBin is a world-executable copy of the test binary, so clients can run
// under unprivileged uids (go test's build dir is private to root).
var clientBin string

func TestMain(m *testing.M) {
	if req := os.Getenv(helperEnv); req != "" {
		os.Exit(runHelper(req))
	}
	dir, err := copyTestBinary()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func copyTestBinary() (string, error) {
	self, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find test binary: %w", err)
	}
	dir, err := os.MkdirTemp("", "interlock-redirect-")
	if err != nil {
		return "", fmt.Errorf("copy test binary: %w", err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return "", fmt.Errorf("copy test binary: %w", err)
	}
	src, err := os.Open(self)
	if err != nil {
		return "", fmt.Errorf("copy test binary: %w", err)
	}
	defer src.Close()
	clientBin = filepath.Join(dir, clientComm)
	dst, err := os.OpenFile(clientBin, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o755)
	if err != nil {
		return "", fmt.Errorf("copy test binary: %w", err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return "", fmt.Errorf("copy test binary: %w", err)
	}
	return dir, dst.Close()
}
