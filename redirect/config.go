package redirect

import (
	"cmp"
	"fmt"
	"log/slog"
	"path/filepath"
)

const (
	// DefaultPinDir is where links and maps are pinned unless Config.PinDir says otherwise.
	DefaultPinDir = "/sys/fs/bpf/interlock"
	// DefaultMark is the SO_MARK of interlockd's upstream sockets unless Config.Mark says otherwise.
	DefaultMark uint32 = 0x1c0c4b00
)

// Config says where the redirect attaches and how interlockd's own traffic is recognised.
type Config struct {
	// CgroupPath is the cgroup v2 directory the programs attach to; they act on
	// every socket created in it and its descendants. Empty means the root of the
	// cgroup2 mount (found in /proc/self/mountinfo, mounted at
	// /sys/fs/cgroup/unified if there is none). A path that is an empty
	// directory outside any cgroup2 mount gets cgroup2 mounted on it.
	CgroupPath string
	// PinDir is a directory on a bpf filesystem holding the pinned links and
	// maps, so enforcement survives the daemon. Default DefaultPinDir.
	PinDir string
	// Mark is the SO_MARK carried by interlockd's upstream sockets (see
	// MarkControl); sockets with it are never redirected. Default DefaultMark.
	Mark uint32
	// Logger receives install and upgrade events. Default slog.Default().
	Logger *slog.Logger
}

// Validate checks the fields and fills defaults.
func (c *Config) Validate() error {
	if c.PinDir == "" {
		c.PinDir = DefaultPinDir
	}
	if !filepath.IsAbs(c.PinDir) {
		return fmt.Errorf("pin dir %q: must be an absolute path", c.PinDir)
	}
	c.PinDir = filepath.Clean(c.PinDir)
	if c.CgroupPath != "" {
		if !filepath.IsAbs(c.CgroupPath) {
			return fmt.Errorf("cgroup path %q: must be an absolute path", c.CgroupPath)
		}
		c.CgroupPath = filepath.Clean(c.CgroupPath)
	}
	c.Mark = cmp.Or(c.Mark, DefaultMark)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}
