package audit

import (
	"cmp"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Defaults filled in by Config.Validate.
const (
	DefaultCheckpointInterval = time.Minute
	DefaultFlushDelay         = 100 * time.Millisecond
	DefaultMaxStatementBytes  = 4096
	DefaultWritebackInterval  = time.Second
)

// Config configures a Log.
type Config struct {
	// Path of the live JSON-lines file. It is created 0600 and its parent
	// directory 0700 if missing. Rotated files sit beside it as
	// Path.<20-digit seq>.
	Path string
	// SigningKey signs checkpoints. Optional: without it no checkpoint is
	// ever written, so the chain detects edits, deletions and reordering
	// but not truncation of its tail, and Verify cannot tell a clean
	// shutdown from a cut log.
	SigningKey ed25519.PrivateKey
	// CheckpointInterval is how often a signed checkpoint seals the chain
	// (only when records were added since the last one). Default 1 minute.
	CheckpointInterval time.Duration
	// RotateBytes rotates the file once it grows past this size; 0 never
	// rotates.
	RotateBytes int64
	// Fsync makes every synchronous write (Write, and the background flush
	// of deferred records) wait for fsync(2). Without it (the default) a
	// record is in the kernel's page cache when Write returns: it survives a
	// crash of interlockd but not a power loss or kernel crash, and Write
	// costs a few microseconds instead of a disk flush (hundreds of
	// microseconds to milliseconds, serialised across all sessions).
	// Checkpoints, rotation and Close always fsync.
	Fsync bool
	// WritebackInterval is how often the file's new pages are handed to
	// the disk without waiting for it (sync_file_range(2) with
	// SYNC_FILE_RANGE_WRITE), so that a power loss or kernel crash loses
	// about this much of the chain rather than the up to 35 s the kernel
	// keeps dirty pages by default. Not used with Fsync. Default 1s.
	WritebackInterval time.Duration
	// FlushDelay bounds how long a Defer'd record waits for the next Write
	// before a background flush writes it. Default 100ms.
	FlushDelay time.Duration
	// MaxStatementBytes bounds the statement text the proxy stores in a
	// record (see Body.StrMax and Log.MaxStatementBytes). Default 4096.
	MaxStatementBytes int
	// Clock gives record times. Default time.Now.
	Clock func() time.Time
	// Logger receives operational errors (failed background flushes,
	// rotation problems). Default slog.Default().
	Logger *slog.Logger
}

// Validate checks c and fills in defaults.
func (c *Config) Validate() error {
	if c.Path == "" {
		return errors.New("audit config: path is required")
	}
	if c.SigningKey != nil && len(c.SigningKey) != ed25519.PrivateKeySize {
		return fmt.Errorf("audit config: signing key is %d bytes, want %d", len(c.SigningKey), ed25519.PrivateKeySize)
	}
	if c.CheckpointInterval < 0 || c.RotateBytes < 0 || c.FlushDelay < 0 || c.MaxStatementBytes < 0 || c.WritebackInterval < 0 {
		return errors.New("audit config: negative interval or size")
	}
	c.CheckpointInterval = cmp.Or(c.CheckpointInterval, DefaultCheckpointInterval)
	c.FlushDelay = cmp.Or(c.FlushDelay, DefaultFlushDelay)
	c.WritebackInterval = cmp.Or(c.WritebackInterval, DefaultWritebackInterval)
	c.MaxStatementBytes = cmp.Or(c.MaxStatementBytes, DefaultMaxStatementBytes)
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}
