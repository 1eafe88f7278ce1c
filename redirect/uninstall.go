package redirect

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
)

// Uninstall removes the redirect and the guard: it detaches and unpins the
// links (even while a daemon still holds them), unpins the maps and removes
// pinDir. Only the names this package pins are touched. A missing pinDir is
// not an error.
func Uninstall(ctx context.Context, pinDir string) error {
	if pinDir == "" {
		pinDir = DefaultPinDir
	}
	if _, err := os.Stat(pinDir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	var errs []error
	// The guard first: while the redirect is still in place.
	if err := removeGuardLinks(ctx, pinDir); err != nil {
		errs = append(errs, err)
	}
	for _, h := range hooks {
		if err := ctx.Err(); err != nil {
			return err
		}
		l, err := link.LoadPinnedLink(linkPinPath(pinDir, h.name), nil)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("open link %s: %w", h.name, err))
			continue
		}
		if err := retireLink(l); err != nil {
			errs = append(errs, fmt.Errorf("remove link %s: %w", h.name, err))
		}
	}
	for _, load := range []func() (*ebpf.CollectionSpec, error){loadRedirect, loadGuard} {
		spec, err := load()
		if err != nil {
			return errors.Join(append(errs, err)...)
		}
		for name, ms := range spec.Maps {
			if ms.Pinning != ebpf.PinByName {
				continue
			}
			if err := os.Remove(filepath.Join(pinDir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, fmt.Errorf("unpin map %s: %w", name, err))
			}
		}
	}
	if err := os.Remove(pinDir); err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, fmt.Errorf("remove pin dir: %w", err))
	}
	return errors.Join(errs...)
}
