package testenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/procfs"
	"golang.org/x/sys/unix"
)

// cgroup2Fallback is where cgroup2 is mounted when no cgroup2 mount exists.
const cgroup2Fallback = "/sys/fs/cgroup/unified"

// cgroupDrainBudget bounds how long Close waits for a cgroup's processes to exit.
const cgroupDrainBudget = 10 * time.Second

// Cgroup is a cgroup v2 directory made for a test under the cgroup2 mount.
// Processes started with Cmd or Apply are born in it (clone3 CLONE_INTO_CGROUP),
// so every socket they create belongs to it from the start. Close kills what is
// left in it (only processes the test started can be there) and removes it.
type Cgroup struct {
	// Path is the cgroup directory.
	Path string
	// ID is the cgroup id (what bpf_get_current_cgroup_id returns).
	ID uint64
	// Rel is Path relative to the cgroup2 root, as in /proc/<pid>/cgroup.
	Rel string

	dir       *os.File
	closeOnce sync.Once
	closeErr  error
}

// CreateCgroup makes a fresh child of the cgroup2 root (mounting cgroup2 at
// /sys/fs/cgroup/unified if it is not mounted). It never touches the root
// itself. Close removes it.
func CreateCgroup(ctx context.Context) (*Cgroup, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	root, err := Cgroup2Mount()
	if err != nil {
		return nil, err
	}
	return makeCgroup(root, "interlock-test-", "")
}

// makeCgroup creates a cgroup named prefix* in the directory parent, whose
// path relative to the hierarchy's root is parentRel.
func makeCgroup(parent, prefix, parentRel string) (*Cgroup, error) {
	path, err := os.MkdirTemp(parent, prefix)
	if err != nil {
		return nil, fmt.Errorf("create cgroup: %w", err)
	}
	dir, err := os.OpenFile(path, os.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("open cgroup: %w", err), os.Remove(path))
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(dir.Fd()), &st); err != nil {
		return nil, errors.Join(fmt.Errorf("stat cgroup: %w", err), dir.Close(), os.Remove(path))
	}
	return &Cgroup{Path: path, ID: st.Ino, Rel: parentRel + "/" + filepath.Base(path), dir: dir}, nil
}

// Cgroup2Mount returns the mount point of the cgroup2 hierarchy from
// /proc/self/mountinfo, mounting cgroup2 at /sys/fs/cgroup/unified if there is none.
func Cgroup2Mount() (string, error) {
	mounts, err := procfs.GetMounts()
	if err != nil {
		return "", fmt.Errorf("read mountinfo: %w", err)
	}
	for _, m := range mounts {
		if m.FSType == "cgroup2" {
			return m.MountPoint, nil
		}
	}
	if err := os.MkdirAll(cgroup2Fallback, 0o755); err != nil {
		return "", fmt.Errorf("mount cgroup2: %w", err)
	}
	if err := unix.Mount("none", cgroup2Fallback, "cgroup2", 0, ""); err != nil {
		return "", fmt.Errorf("mount cgroup2 on %s (needs root and CONFIG_CGROUPS): %w", cgroup2Fallback, err)
	}
	return cgroup2Fallback, nil
}

// FD is an open descriptor of the cgroup directory, for SysProcAttr.CgroupFD.
func (c *Cgroup) FD() int { return int(c.dir.Fd()) }

// Apply makes cmd start inside the cgroup, keeping its other SysProcAttr settings.
func (c *Cgroup) Apply(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.UseCgroupFD = true
	cmd.SysProcAttr.CgroupFD = c.FD()
}

// Cmd is exec.CommandContext with the process started inside the cgroup.
func (c *Cgroup) Cmd(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	c.Apply(cmd)
	return cmd
}

// Procs lists the pids in the cgroup.
func (c *Cgroup) Procs() ([]int, error) {
	b, err := os.ReadFile(filepath.Join(c.Path, "cgroup.procs"))
	if err != nil {
		return nil, fmt.Errorf("read cgroup.procs: %w", err)
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("parse cgroup.procs: %w", err)
		}
		pids = append(pids, pid)
	}
	return pids, nil
}

// Close kills processes left in the cgroup, waits until it is empty and
// removes it. Safe to call twice.
func (c *Cgroup) Close() error {
	c.closeOnce.Do(func() { c.closeErr = c.close() })
	return c.closeErr
}

func (c *Cgroup) close() error {
	var errs []error
	if pids, err := c.Procs(); err == nil && len(pids) > 0 {
		if err := os.WriteFile(filepath.Join(c.Path, "cgroup.kill"), []byte("1"), 0); err != nil {
			errs = append(errs, fmt.Errorf("kill cgroup: %w", err))
		}
	}
	deadline := time.Now().Add(cgroupDrainBudget)
	for {
		err := os.Remove(c.Path)
		if err == nil || errors.Is(err, os.ErrNotExist) {
			break
		}
		if !errors.Is(err, unix.EBUSY) || time.Now().After(deadline) {
			errs = append(errs, fmt.Errorf("remove cgroup %s: %w", c.Path, err))
			break
		}
		time.Sleep(10 * time.Millisecond) // poll: the kernel has no wait for "cgroup empty"
	}
	errs = append(errs, c.dir.Close())
	return errors.Join(errs...)
}
