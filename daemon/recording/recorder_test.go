package recording

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestMaxAgeRemovesOldRecordings(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sessions")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	old := fixedClock().Add(-48 * time.Hour)
	for _, name := range []string{"old1.jsonl", "old2.jsonl", "fresh.jsonl", "notes.txt"} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("{}\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if name != "fresh.jsonl" {
			if err := os.Chtimes(p, old, old); err != nil {
				t.Fatal(err)
			}
		}
	}
	r := mustNew(t, Config{Dir: dir, MaxAge: 24 * time.Hour})
	s := mustOpen(t, r, "open")
	if err := os.Chtimes(r.Path("open"), old, old); err != nil {
		t.Fatal(err)
	}
	if err := r.removeOld(context.Background()); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{"old1.jsonl": false, "old2.jsonl": false, "fresh.jsonl": true, "notes.txt": true, "open.jsonl": true} {
		_, err := os.Stat(filepath.Join(dir, name))
		if got := err == nil; got != want {
			t.Errorf("%s exists: %v, want %v", name, got, want)
		}
	}
	if st := r.Stats(); st.Removed != 2 {
		t.Fatalf("removed %d, want 2", st.Removed)
	}
	s.Close("done")
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"defaults", Config{Dir: "/x"}, true},
		{"no dir", Config{}, false},
		{"too small", Config{Dir: "/x", MaxBytes: 1000}, false},
		{"negative", Config{Dir: "/x", MaxAge: -1}, false},
	}
	for _, tt := range tests {
		err := tt.cfg.Validate()
		if (err == nil) != tt.ok {
			t.Errorf("%s: err %v", tt.name, err)
		}
	}
	c := Config{Dir: "/x"}
	_ = c.Validate()
	if c.MaxBytes != DefaultMaxBytes || c.MaxRowsPerResult != DefaultMaxRowsPerResult || c.FlushInterval != DefaultFlushInterval {
		t.Fatalf("defaults %+v", c)
	}
	if got := DefaultDir("/var/log/interlock/audit.jsonl"); got != "/var/log/interlock/sessions" {
		t.Fatalf("DefaultDir %q", got)
	}
}

func TestNewRefusesAFileAsDir(t *testing.T) {
	f := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(f, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New(context.Background(), Config{Dir: f, Logger: quietLogger()}); err == nil {
		t.Fatal("New accepted a file as directory")
	}
}
