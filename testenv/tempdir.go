package testenv

import (
	"fmt"
	"os"
	"testing"
)

// sharedTempDir makes an empty directory (name prefix*) that other uids,
// such as the postgres user or a test's unprivileged client, can traverse;
// go test's own temporary directories are private to root.
func sharedTempDir(prefix string) (string, error) {
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		return "", fmt.Errorf("make shared temp dir: %w", err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("make shared temp dir: %w", err)
	}
	return dir, nil
}

// SharedTempDir is sharedTempDir for a test, removed with tb.Cleanup.
func SharedTempDir(tb testing.TB, prefix string) string {
	tb.Helper()
	dir, err := sharedTempDir(prefix)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}
