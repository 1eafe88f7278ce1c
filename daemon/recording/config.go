package recording

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"
)

// Defaults filled in by Config.Validate.
const (
	DefaultMaxBytes          = 16 << 20
	DefaultMaxRowsPerResult  = 1000
	DefaultMaxValueBytes     = 4096
	DefaultMaxStatementBytes = 4096
	DefaultFlushInterval     = time.Second
	// MinMaxBytes is the smallest MaxBytes accepted.
	MinMaxBytes = 64 << 10
)

// Config configures a Recorder.
type Config struct {
	// Dir holds one file per session, <session id>.jsonl. It is created
	// 0700 if missing. Required; DefaultDir gives the conventional place
	// next to the audit log.
	Dir string
	// MaxBytes bounds each session's file. Rows stop at 7/8 of it;
	// statements, results and notices go on until the last KiB, which is
	// kept for the end line. Default 16 MiB; at least 64 KiB.
	MaxBytes int64
	// MaxRowsPerResult bounds the rows (and COPY chunks) recorded per
	// statement; the rest are counted. 0 means the default (1000); a
	// negative value means no bound but MaxBytes.
	MaxRowsPerResult int
	// MaxValueBytes cuts each value to this many bytes (the original
	// length is kept). 0 means the default (4096); negative, no cut.
	MaxValueBytes int
	// MaxStatementBytes cuts statement text (the audit record has its
	// SHA-256). 0 means the default (4096); negative, no cut.
	MaxStatementBytes int
	// FlushInterval is how often pending lines are written in the
	// background. Default 1s.
	FlushInterval time.Duration
	// MaxAge removes recordings whose file was last written longer ago,
	// when New runs and hourly after. 0 keeps them: operators rotate them.
	MaxAge time.Duration
	// Clock gives line times. Default time.Now.
	Clock func() time.Time
	// Logger receives recording failures. Default slog.Default().
	Logger *slog.Logger
}

// DefaultDir is the conventional recording directory for an audit log
// path: a "sessions" directory beside it.
func DefaultDir(auditPath string) string {
	return filepath.Join(filepath.Dir(auditPath), "sessions")
}

// Validate checks c and fills in defaults.
func (c *Config) Validate() error {
	if c.Dir == "" {
		return errors.New("recording config: dir is required")
	}
	if c.FlushInterval < 0 || c.MaxAge < 0 || c.MaxBytes < 0 {
		return errors.New("recording config: negative interval, age or size")
	}
	c.MaxBytes = cmp.Or(c.MaxBytes, DefaultMaxBytes)
	if c.MaxBytes < MinMaxBytes {
		return fmt.Errorf("recording config: max bytes %d is below the minimum %d", c.MaxBytes, MinMaxBytes)
	}
	c.MaxRowsPerResult = cmp.Or(c.MaxRowsPerResult, DefaultMaxRowsPerResult)
	c.MaxValueBytes = cmp.Or(c.MaxValueBytes, DefaultMaxValueBytes)
	c.MaxStatementBytes = cmp.Or(c.MaxStatementBytes, DefaultMaxStatementBytes)
	c.FlushInterval = cmp.Or(c.FlushInterval, DefaultFlushInterval)
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}
