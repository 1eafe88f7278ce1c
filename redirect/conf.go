package redirect

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// updateConf changes the shared il_conf entry (read, fn, write). The caller
// holds r.mu exclusively, so the redirect and the guard never lose each
// other's fields.
func (r *Redirector) updateConf(fn func(*redirectIlConfig)) error {
	var (
		zero uint32
		c    redirectIlConfig
	)
	if err := r.objs.IlConf.Lookup(&zero, &c); err != nil {
		return fmt.Errorf("read bpf config: %w", err)
	}
	fn(&c)
	if err := r.objs.IlConf.Update(&zero, &c, ebpf.UpdateExist); err != nil {
		return fmt.Errorf("write bpf config: %w", err)
	}
	return nil
}

// conf returns the shared il_conf entry.
func (r *Redirector) conf() (redirectIlConfig, error) {
	var (
		zero uint32
		c    redirectIlConfig
	)
	if err := r.objs.IlConf.Lookup(&zero, &c); err != nil {
		return c, fmt.Errorf("read bpf config: %w", err)
	}
	return c, nil
}

// setHostConf records what the programs need to know about this daemon: its
// network namespace (a connect or a mark from any other is not the
// daemon's) and the enforcement cgroup.
func (r *Redirector) setHostConf() error {
	cookie, err := ownNetnsCookie()
	if err != nil {
		return err
	}
	level, err := cgroupLevel(r.cg)
	if err != nil {
		return err
	}
	r.netnsCookie = cookie
	return r.updateConf(func(c *redirectIlConfig) {
		c.HostNetnsCookie = cookie
		c.EnforceCgroupId = r.cg.id
		c.EnforceCgroupLevel = level
	})
}

// ownNetnsCookie is the cookie of the calling thread's network namespace.
func ownNetnsCookie() (uint64, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("netns cookie: %w", err)
	}
	defer unix.Close(fd)
	c, err := unix.GetsockoptUint64(fd, unix.SOL_SOCKET, unix.SO_NETNS_COOKIE)
	if err != nil {
		return 0, fmt.Errorf("netns cookie (SO_NETNS_COOKIE, Linux 5.14+): %w", err)
	}
	return c, nil
}

// cgroupLevel is the depth of cg below its hierarchy's root (the root is 0),
// as bpf_skb_ancestor_cgroup_id counts.
func cgroupLevel(cg cgroupTarget) (uint32, error) {
	rel, err := filepath.Rel(cg.mount, cg.path)
	if err != nil || strings.HasPrefix(rel, "..") {
		return 0, errors.New("cgroup level: cgroup outside its mount")
	}
	if rel == "." {
		return 0, nil
	}
	return uint32(len(strings.Split(rel, string(os.PathSeparator)))), nil
}
