package approval

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"
)

// fileVersion is the format of the local store's file.
const fileVersion = 1

// File modes: statements and parameters may be sensitive.
const (
	dirMode  fs.FileMode = 0o700
	fileMode fs.FileMode = 0o600
)

type storeFile struct {
	Version  int        `json:"version"`
	Requests []*Request `json:"requests"`
}

// prepareDir creates the directory 0700, or checks an existing one is not
// open to other users.
func prepareDir(path string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return fmt.Errorf("create approval store directory: %w", err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("approval store directory: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("approval store directory %s has mode %04o, want 0700: it holds held statements and their parameters", dir, fi.Mode().Perm())
	}
	return nil
}

// loadFile reads the requests. A missing file is an empty store; an
// unreadable one is moved aside (path.bad-<unix time>) with a warning.
func loadFile(ctx context.Context, path string, log *slog.Logger) ([]*Request, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read approval store: %w", err)
	}
	var f storeFile
	err = json.Unmarshal(b, &f)
	if err == nil && f.Version != fileVersion {
		err = fmt.Errorf("format version %d, want %d", f.Version, fileVersion)
	}
	if err != nil {
		aside := fmt.Sprintf("%s.bad-%d", path, time.Now().Unix())
		log.WarnContext(ctx, "approval store file unreadable; moved aside, starting empty", "aside", aside, "err", err)
		if rerr := os.Rename(path, aside); rerr != nil {
			return nil, fmt.Errorf("move unreadable approval store aside: %w", rerr)
		}
		return nil, nil
	}
	return f.Requests, nil
}

// saveFile writes atomically: temporary file, fsync, rename, fsync of the
// directory.
func saveFile(path string, rs []*Request) (err error) {
	b, err := json.MarshalIndent(storeFile{Version: fileVersion, Requests: rs}, "", "  ")
	if err != nil {
		return fmt.Errorf("encode approval store: %w", err)
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("create temporary approval store: %w", err)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, os.Remove(tmp.Name()))
		}
	}()
	if err := tmp.Chmod(fileMode); err != nil {
		tmp.Close()
		return fmt.Errorf("chmod approval store: %w", err)
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("write approval store: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("sync approval store: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close approval store: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("rename approval store: %w", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync approval store directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync approval store directory: %w", err)
	}
	return nil
}
