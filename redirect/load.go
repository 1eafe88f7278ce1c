package redirect

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/rlimit"
)

// loadObjects loads the programs with the daemon mark set and the maps taken
// from (or pinned into) pinDir, so a restarted daemon keeps the endpoint set
// and the origins of live connections.
func loadObjects(pinDir string, mark uint32, log *slog.Logger) (*redirectObjects, error) {
	if err := rlimit.RemoveMemlock(); err != nil {
		return nil, fmt.Errorf("remove memlock rlimit: %w", err)
	}
	spec, err := loadRedirect()
	if err != nil {
		return nil, err
	}
	if err := spec.Variables[redirectVarDaemonMark].Set(mark); err != nil {
		return nil, fmt.Errorf("set daemon mark: %w", err)
	}
	if err := dropIncompatiblePins(spec, pinDir, log); err != nil {
		return nil, err
	}
	objs := new(redirectObjects)
	opts := &ebpf.CollectionOptions{Maps: ebpf.MapOptions{PinPath: pinDir}}
	if err := spec.LoadAndAssign(objs, opts); err != nil {
		var verr *ebpf.VerifierError
		if errors.As(err, &verr) {
			return nil, fmt.Errorf("load bpf programs: %+v", verr)
		}
		return nil, fmt.Errorf("load bpf objects: %w", err)
	}
	return objs, nil
}

// dropIncompatiblePins unpins maps left by a version with another layout, so
// they are created afresh. Programs still attached keep the old map until
// their link is updated; the endpoint set is refilled by SetEndpoints.
func dropIncompatiblePins(spec *ebpf.CollectionSpec, pinDir string, log *slog.Logger) error {
	for name, ms := range spec.Maps {
		if ms.Pinning != ebpf.PinByName {
			continue
		}
		path := filepath.Join(pinDir, name)
		m, err := ebpf.LoadPinnedMap(path, nil)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("open pinned map %s: %w", path, err)
		}
		cerr := ms.Compatible(m)
		m.Close()
		if cerr == nil {
			continue
		}
		log.Warn("replacing pinned map of another version", logKeyMap, name, logKeyError, cerr)
		if err := os.Remove(path); err != nil {
			return fmt.Errorf("unpin incompatible map %s: %w", path, err)
		}
	}
	return nil
}
