package hostsession

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/interlock-dev/interlock/daemon/identity"
)

// fileVersion is the format of the session file.
const fileVersion = 1

// File modes: the file holds refresh tokens, so only root may read it.
const (
	dirMode  fs.FileMode = 0o700
	fileMode fs.FileMode = 0o600
)

type sessionFile struct {
	Version  int           `json:"version"`
	Sessions []fileSession `json:"sessions"`
}

type fileSession struct {
	UID          uint32    `json:"uid"`
	Issuer       string    `json:"iss"`
	Subject      string    `json:"sub"`
	Email        string    `json:"email,omitempty"`
	Groups       []string  `json:"groups,omitempty"`
	Expiry       time.Time `json:"expiry"`
	LoginAt      time.Time `json:"login_at"`
	RefreshedAt  time.Time `json:"refreshed_at,omitzero"`
	AutoRefresh  bool      `json:"auto_refresh"`
	RefreshError string    `json:"refresh_error,omitempty"`
	NoRefresh    bool      `json:"no_refresh,omitempty"`
	Tokens       Tokens    `json:"tokens"`
}

// prepareDir creates the session directory 0700, or checks that an
// existing one is not open to other users.
func prepareDir(path string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return fmt.Errorf("create session directory: %w", err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("session directory: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("session directory %s has mode %04o, want 0700: it holds refresh tokens (chmod 0700 it or use a directory of its own)", dir, fi.Mode().Perm())
	}
	return nil
}

// persist writes the sessions atomically: a temporary file in the same
// directory, fsync, rename over the file, fsync of the directory.
func (s *Store) persist(m sessionMap) error {
	if s.cfg.Path == "" {
		return nil
	}
	f := sessionFile{Version: fileVersion, Sessions: make([]fileSession, 0, len(m))}
	for uid, e := range m {
		id := e.sess.Identity
		f.Sessions = append(f.Sessions, fileSession{
			UID: uid, Issuer: id.Issuer, Subject: id.Subject, Email: id.Email, Groups: id.Groups,
			Expiry: id.Expiry, LoginAt: e.sess.LoginAt, RefreshedAt: e.sess.RefreshedAt,
			AutoRefresh: e.sess.AutoRefresh, RefreshError: e.refreshErr, NoRefresh: e.noRefresh,
			Tokens: e.tok,
		})
	}
	slices.SortFunc(f.Sessions, func(a, b fileSession) int { return cmp.Compare(a.UID, b.UID) })
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("encode sessions: %w", err)
	}
	return writeAtomic(s.cfg.Path, b)
}

func writeAtomic(path string, b []byte) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("create temporary session file: %w", err)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, os.Remove(tmp.Name()))
		}
	}()
	if err := tmp.Chmod(fileMode); err != nil {
		tmp.Close()
		return fmt.Errorf("chmod session file: %w", err)
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("write session file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("sync session file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close session file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("rename session file: %w", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync session directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync session directory: %w", err)
	}
	return nil
}

// load reads the session file. Expired sessions are dropped; so are
// sessions whose token no longer verifies (another issuer or audience was
// configured), unless the provider is unreachable, in which case the
// identity stored when the token was verified is kept. An unreadable
// file is moved aside and the store starts empty.
func (s *Store) load(ctx context.Context) error {
	b, err := os.ReadFile(s.cfg.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read session file: %w", err)
	}
	if fi, err := os.Stat(s.cfg.Path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		s.log.Warn("session file was readable by other users; it is rewritten 0600", "path", s.cfg.Path, "mode", fmt.Sprintf("%04o", fi.Mode().Perm()))
	}
	var f sessionFile
	if err := json.Unmarshal(b, &f); err != nil || f.Version != fileVersion {
		if err == nil {
			err = fmt.Errorf("version %d, want %d", f.Version, fileVersion)
		}
		aside := s.cfg.Path + ".corrupt"
		s.log.Error("session file unreadable; starting without sessions", "path", s.cfg.Path, "moved_to", aside, "err", err)
		if err := os.Rename(s.cfg.Path, aside); err != nil {
			return fmt.Errorf("move unreadable session file aside: %w", err)
		}
		return nil
	}
	now := s.now()
	m := sessionMap{}
	for _, fsess := range f.Sessions {
		if e := s.restore(ctx, now, fsess); e != nil {
			m[fsess.UID] = e
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.commit(true, func(next sessionMap) { maps.Copy(next, m) }); err != nil {
		return fmt.Errorf("rewrite session file: %w", err)
	}
	s.log.Info("host sessions loaded", "path", s.cfg.Path, "sessions", len(m), "dropped", len(f.Sessions)-len(m))
	return nil
}

// restore turns a persisted session into an entry, or nil to drop it.
func (s *Store) restore(ctx context.Context, now time.Time, fsess fileSession) *entry {
	log := s.log.With("uid", fsess.UID, "sub", fsess.Subject)
	if !now.Before(fsess.Expiry) {
		log.Info("dropping expired host session", "expiry", fsess.Expiry)
		return nil
	}
	id := &identity.Identity{Issuer: fsess.Issuer, Subject: fsess.Subject, Email: fsess.Email, Groups: fsess.Groups, Expiry: fsess.Expiry}
	verified, err := s.verify(ctx, fsess.Tokens)
	var te *identity.TokenError
	switch {
	case err == nil && (verified.Subject != id.Subject || verified.Issuer != id.Issuer):
		log.Warn("dropping host session: its token names another subject", "token_sub", verified.Subject)
		return nil
	case err == nil:
		id = verified
	case errors.As(err, &te) && te.Cause == identity.CauseUnavailable:
		log.Warn("identity provider unreachable; keeping the stored host session", "err", err)
	default:
		log.Info("dropping host session whose token no longer verifies", "err", err)
		return nil
	}
	e := &entry{
		sess:       &Session{UID: fsess.UID, Identity: id, LoginAt: fsess.LoginAt, RefreshedAt: fsess.RefreshedAt, AutoRefresh: fsess.AutoRefresh && s.refreshConfigured()},
		tok:        fsess.Tokens,
		refreshErr: fsess.RefreshError,
		noRefresh:  fsess.NoRefresh,
	}
	e.nextRefresh = s.refreshAt(now, id.Expiry)
	return e
}
