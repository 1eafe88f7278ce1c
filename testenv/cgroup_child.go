package testenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// CreateChild makes a fresh child cgroup of c, for tests that attach
// programs at c and need processes below it (as production attaches at the
// root and every process lives below). Close it before c.
func (c *Cgroup) CreateChild(ctx context.Context) (*Cgroup, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	path, err := os.MkdirTemp(c.Path, "child-")
	if err != nil {
		return nil, fmt.Errorf("create child cgroup: %w", err)
	}
	dir, err := os.OpenFile(path, os.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("open cgroup: %w", err), os.Remove(path))
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(dir.Fd()), &st); err != nil {
		return nil, errors.Join(fmt.Errorf("stat cgroup: %w", err), dir.Close(), os.Remove(path))
	}
	return &Cgroup{Path: path, ID: st.Ino, Rel: c.Rel + "/" + filepath.Base(path), dir: dir}, nil
}
