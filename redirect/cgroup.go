package redirect

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/prometheus/procfs"
	"golang.org/x/sys/unix"
)

// fallbackCgroup2Mount is where cgroup2 is mounted when no cgroup2 mount exists.
const fallbackCgroup2Mount = "/sys/fs/cgroup/unified"

// fileIDKernfs is the file handle type of kernfs (cgroup2) inodes: the handle
// of a cgroup is its 64-bit cgroup id.
const fileIDKernfs = 0xfe

// cgroupTarget is the cgroup the programs attach to.
type cgroupTarget struct {
	path  string // the cgroup directory
	mount string // mount point of the cgroup2 hierarchy holding path
	id    uint64 // cgroup id (inode number of path)
}

// resolveCgroup finds (or mounts) the cgroup2 hierarchy and the attach cgroup.
func resolveCgroup(path string) (cgroupTarget, error) {
	mounts, err := cgroup2Mounts()
	if err != nil {
		return cgroupTarget{}, err
	}
	if path == "" {
		if len(mounts) == 0 {
			if err := mountCgroup2(fallbackCgroup2Mount); err != nil {
				return cgroupTarget{}, err
			}
			mounts = []string{fallbackCgroup2Mount}
		}
		path = mounts[0]
	}
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return cgroupTarget{}, fmt.Errorf("statfs cgroup %s: %w", path, err)
	}
	mount := mountOf(path, mounts)
	if st.Type != unix.CGROUP2_SUPER_MAGIC {
		if err := mountCgroup2(path); err != nil {
			return cgroupTarget{}, fmt.Errorf("cgroup %s is not on cgroup2: %w", path, err)
		}
		mount = path
	}
	if mount == "" {
		return cgroupTarget{}, fmt.Errorf("cgroup %s: no cgroup2 mount point above it", path)
	}
	id, err := cgroupID(path)
	if err != nil {
		return cgroupTarget{}, err
	}
	return cgroupTarget{path: path, mount: mount, id: id}, nil
}

// cgroup2Mounts lists the mount points of cgroup2 in /proc/self/mountinfo.
func cgroup2Mounts() ([]string, error) {
	infos, err := procfs.GetMounts()
	if err != nil {
		return nil, fmt.Errorf("read mountinfo: %w", err)
	}
	var out []string
	for _, m := range infos {
		if m.FSType == "cgroup2" {
			out = append(out, m.MountPoint)
		}
	}
	return out, nil
}

// mountOf returns the longest mount point that contains path.
func mountOf(path string, mounts []string) string {
	best := ""
	for _, m := range mounts {
		if (path == m || strings.HasPrefix(path, strings.TrimSuffix(m, "/")+"/")) && len(m) > len(best) {
			best = m
		}
	}
	return best
}

// mountCgroup2 mounts cgroup2 on dir, which must be missing or empty.
func mountCgroup2(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("mount cgroup2: %w", err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("mount cgroup2: %w", err)
	}
	if len(ents) > 0 {
		return fmt.Errorf("mount cgroup2 on %s: directory is not empty", dir)
	}
	if err := unix.Mount("none", dir, "cgroup2", 0, ""); err != nil {
		return fmt.Errorf("mount cgroup2 on %s: %w", dir, err)
	}
	return nil
}

// cgroupID returns the id of the cgroup at path: its inode number.
func cgroupID(path string) (uint64, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return 0, fmt.Errorf("stat cgroup %s: %w", path, err)
	}
	return st.Ino, nil
}

// cgroupPathByID resolves a cgroup id to its path relative to the cgroup2
// root ("/a/b", as in /proc/<pid>/cgroup). It works after the process exits
// and needs CAP_DAC_READ_SEARCH.
func cgroupPathByID(mount string, id uint64) (string, error) {
	mfd, err := unix.Open(mount, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", fmt.Errorf("open cgroup2 mount: %w", err)
	}
	defer unix.Close(mfd)
	var h [8]byte
	binary.NativeEndian.PutUint64(h[:], id)
	fd, err := unix.OpenByHandleAt(mfd, unix.NewFileHandle(fileIDKernfs, h[:]), unix.O_RDONLY|unix.O_CLOEXEC)
	if err != nil {
		return "", fmt.Errorf("open cgroup %d by handle: %w", id, err)
	}
	defer unix.Close(fd)
	p, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd))
	if err != nil {
		return "", fmt.Errorf("resolve cgroup %d: %w", id, err)
	}
	rel, err := filepath.Rel(mount, p)
	if err != nil || strings.HasPrefix(rel, "..") {
		return "", errors.New("resolve cgroup: outside the cgroup2 mount")
	}
	return filepath.Clean("/" + rel), nil
}
