package redirect

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// defaultBPFFS is where the bpf filesystem is mounted if it is missing.
const defaultBPFFS = "/sys/fs/bpf"

// ensurePinDir makes dir on a bpf filesystem, mounting bpffs at /sys/fs/bpf
// when dir lies under it and nothing is mounted there yet.
func ensurePinDir(dir string) error {
	// The nearest existing ancestor decides which filesystem dir lands on.
	anc := dir
	for {
		if _, err := os.Stat(anc); err == nil {
			break
		} else if !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("pin dir %s: %w", dir, err)
		}
		anc = filepath.Dir(anc)
	}
	onBPF, err := isBPFFS(anc)
	if err != nil {
		return err
	}
	if !onBPF {
		if anc != defaultBPFFS {
			return fmt.Errorf("pin dir %s is not on a bpf filesystem (mount -t bpf bpf <dir>)", dir)
		}
		if err := unix.Mount("bpf", defaultBPFFS, "bpf", 0, "mode=0700"); err != nil {
			return fmt.Errorf("mount bpffs on %s: %w", defaultBPFFS, err)
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("make pin dir: %w", err)
	}
	return nil
}

func isBPFFS(path string) (bool, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return false, fmt.Errorf("statfs %s: %w", path, err)
	}
	return st.Type == unix.BPF_FS_MAGIC, nil
}
