package testenv

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// CopyTestBinary copies the running test binary to a new world-readable
// directory as name, so it can be re-executed as a client process under an
// unprivileged uid (go test's build directory is private to root). The
// copy's comm is name. cleanup removes it.
func CopyTestBinary(name string) (path string, cleanup func(), err error) {
	self, err := os.Executable()
	if err != nil {
		return "", nil, fmt.Errorf("find test binary: %w", err)
	}
	dir, err := sharedTempDir("interlock-bin-")
	if err != nil {
		return "", nil, fmt.Errorf("copy test binary: %w", err)
	}
	cleanup = func() { os.RemoveAll(dir) }
	src, err := os.Open(self)
	if err != nil {
		cleanup()
		return "", nil, fmt.Errorf("copy test binary: %w", err)
	}
	defer src.Close()
	path = filepath.Join(dir, name)
	dst, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o755)
	if err == nil {
		_, err = io.Copy(dst, src)
		err = errors.Join(err, dst.Close())
	}
	if err != nil {
		cleanup()
		return "", nil, fmt.Errorf("copy test binary: %w", err)
	}
	return path, cleanup, nil
}
