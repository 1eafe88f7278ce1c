package audit

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// rotatedDigits is the width of the seq suffix of a rotated file.
const rotatedDigits = 20

// rotatedName is the name a file gets when rotated: Path.<seq of its last
// record, zero padded>, so that names sort in chain order.
func rotatedName(path string, lastSeq uint64) string {
	return fmt.Sprintf("%s.%0*d", path, rotatedDigits, lastSeq)
}

// splitRotated returns the live base name of a rotated file name.
func splitRotated(name string) (base string, ok bool) {
	i := strings.LastIndexByte(name, '.')
	if i <= 0 || len(name)-i-1 != rotatedDigits {
		return "", false
	}
	for _, c := range name[i+1:] {
		if c < '0' || c > '9' {
			return "", false
		}
	}
	return name[:i], true
}

// rotatedFiles returns the rotated predecessors of the live file path, in
// chain order.
func rotatedFiles(path string) ([]string, error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list audit directory: %w", err)
	}
	var out []string
	for _, e := range entries {
		if b, ok := splitRotated(e.Name()); ok && b == base && e.Type().IsRegular() {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	slices.Sort(out)
	return out, nil
}

// ResolveFiles turns what a user named into the files of one chain, in
// chain order. Several names are taken as given. One name may be a
// directory holding one log (its rotated files and live file), the live
// file (its rotated predecessors are added before it; if it does not exist,
// its predecessors alone), or a rotated file (its predecessors are added
// before it).
func ResolveFiles(names []string) ([]string, error) {
	if len(names) == 0 {
		return nil, errors.New("no audit files named")
	}
	if len(names) > 1 {
		return slices.Clone(names), nil
	}
	name := names[0]
	st, err := os.Stat(name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// A live file missing (a crash between rotation's rename and the
		// new file) still names its rotated predecessors.
		rotated, rerr := rotatedFiles(name)
		if rerr != nil || len(rotated) == 0 {
			return nil, fmt.Errorf("audit file: %w", err)
		}
		return rotated, nil
	case err != nil:
		return nil, fmt.Errorf("audit file: %w", err)
	case st.IsDir():
		return resolveDir(name)
	}
	live := name
	if base, ok := splitRotated(name); ok {
		live = base
	}
	rotated, err := rotatedFiles(live)
	if err != nil {
		return nil, err
	}
	if live != name { // a rotated file: its predecessors and itself
		i, _ := slices.BinarySearch(rotated, filepath.Join(filepath.Dir(name), filepath.Base(name)))
		return rotated[:min(i+1, len(rotated))], nil
	}
	return append(rotated, name), nil
}

func resolveDir(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list audit directory: %w", err)
	}
	bases := map[string]bool{}
	var plain []string
	for _, e := range entries {
		if !e.Type().IsRegular() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if b, ok := splitRotated(e.Name()); ok {
			bases[b] = true
		} else {
			plain = append(plain, e.Name())
		}
	}
	var base string
	switch {
	case len(bases) == 1:
		for b := range bases {
			base = b
		}
	case len(bases) == 0 && len(plain) == 1:
		base = plain[0]
	case len(bases) == 0 && len(plain) == 0:
		return nil, fmt.Errorf("no audit files in %s", dir)
	default:
		return nil, fmt.Errorf("%s holds several files or logs: name the live file", dir)
	}
	live := filepath.Join(dir, base)
	files, err := rotatedFiles(live)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(live); err == nil {
		files = append(files, live)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("audit file: %w", err)
	}
	return files, nil
}

// openChain resolves and opens the files of a chain. A live chain may
// rotate between listing and opening; the listing is then taken again.
func openChain(names []string) ([]string, []*os.File, error) {
	var lastErr error
	for range 10 {
		files, err := ResolveFiles(names)
		if err != nil {
			return nil, nil, err
		}
		fds, err := openAll(files)
		if err != nil {
			lastErr = err
			continue
		}
		again, err := ResolveFiles(names)
		if err == nil && slices.Equal(files, again) && sameFiles(files, fds) {
			return files, fds, nil
		}
		for _, f := range fds {
			f.Close()
		}
		lastErr = errors.New("audit files kept changing while being opened")
	}
	return nil, nil, lastErr
}

func openAll(files []string) ([]*os.File, error) {
	fds := make([]*os.File, 0, len(files))
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			for _, f := range fds {
				f.Close()
			}
			return nil, fmt.Errorf("open audit file: %w", err)
		}
		fds = append(fds, f)
	}
	return fds, nil
}

// sameFiles reports whether each name still refers to the file opened.
func sameFiles(files []string, fds []*os.File) bool {
	for i, name := range files {
		a, err1 := os.Stat(name)
		b, err2 := fds[i].Stat()
		if err1 != nil || err2 != nil || !os.SameFile(a, b) {
			return false
		}
	}
	return true
}
