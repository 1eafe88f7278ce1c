package policy

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Watch reloads the policy whenever a file under Config.Paths changes,
// until ctx is done (then it returns nil). It watches directories, not
// files, so that editors that save by renaming and Kubernetes' symlink
// swaps are seen; events are debounced by Config.WatchDebounce. A failed
// reload keeps the last good policy (see Reload) and Watch carries on.
// With no Paths (the embedded policy) there is nothing to watch and Watch
// returns nil at once.
func (e *Engine) Watch(ctx context.Context) error {
	if len(e.cfg.Paths) == 0 {
		return nil
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watch policy: %w", err)
	}
	defer w.Close()

	files := map[string]bool{} // paths given as files, cleaned
	var dirs []string          // paths given as directories, cleaned
	for _, p := range e.cfg.Paths {
		p = filepath.Clean(p)
		info, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("watch policy: %w", err)
		}
		if info.IsDir() {
			dirs = append(dirs, p)
		} else {
			files[p] = true
			p = filepath.Dir(p)
		}
		if err := addTree(w, p); err != nil {
			return fmt.Errorf("watch policy: %w", err)
		}
	}

	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			if ev.Has(fsnotify.Create) {
				if info, err := os.Stat(ev.Name); err == nil && info.IsDir() && relevant(ev, files, dirs) {
					if err := addTree(w, ev.Name); err != nil {
						e.log.Warn("policy watch: cannot watch new directory", logKeyError, err)
					}
				}
			}
			if relevant(ev, files, dirs) {
				timer.Reset(e.cfg.WatchDebounce)
			}
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			e.log.Warn("policy watch error", logKeyError, err)
		case <-timer.C:
			// Reload logs and reports its own failures.
			_ = e.Reload(ctx)
		}
	}
}

// addTree watches dir and every directory below it that the loader reads.
func addTree(w *fsnotify.Watcher, dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		if p != dir && strings.HasPrefix(d.Name(), ".") && !strings.HasPrefix(d.Name(), "..") {
			return filepath.SkipDir
		}
		return w.Add(p)
	})
}

// relevant reports whether ev may change the loaded policy. Under a
// directory path anything but hidden files counts (a reload of unchanged
// content is a no-op); for a path given as a file, that file. The ..data
// symlink swap of Kubernetes' atomic writer counts wherever it happens,
// as it replaces files through symlinks.
func relevant(ev fsnotify.Event, files map[string]bool, dirs []string) bool {
	if ev.Op == fsnotify.Chmod {
		return false
	}
	if files[ev.Name] {
		return true
	}
	base := filepath.Base(ev.Name)
	if strings.HasPrefix(base, "..") {
		return true
	}
	if strings.HasPrefix(base, ".") {
		return false
	}
	for _, d := range dirs {
		if ev.Name == d || strings.HasPrefix(ev.Name, d+string(filepath.Separator)) {
			return true
		}
	}
	return false
}
