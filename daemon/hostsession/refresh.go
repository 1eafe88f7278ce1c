package hostsession

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/interlock-dev/interlock/daemon/identity"
)

const (
	// refreshTimeout bounds one refresh request.
	refreshTimeout = 30 * time.Second
	// minRefreshGap keeps a session from being refreshed in a tight loop
	// when the provider hands out very short tokens.
	minRefreshGap = time.Second
	// maxRetryBackoff caps the wait between failed refreshes.
	maxRetryBackoff = time.Minute
	// maxSleep bounds how long Run sleeps, so a clock jump (suspend) is
	// noticed.
	maxSleep = 30 * time.Second
)

// Scopes the CLI asks for; offline_access yields the refresh token.
var Scopes = []string{oidc.ScopeOpenID, "email", "profile", oidc.ScopeOfflineAccess}

// Run renews sessions before they expire and removes expired ones,
// notifying subscribers, until ctx ends or the store is closed. Lookup
// never returns an expired session, whether Run runs or not.
func (s *Store) Run(ctx context.Context) error {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		next := s.tick(ctx)
		d := min(max(next.Sub(s.now()), 0), maxSleep)
		timer.Reset(d)
		select {
		case <-ctx.Done():
			return nil
		case <-s.done:
			return nil
		case <-s.kick:
		case <-timer.C:
		}
	}
}

// tick ends expired sessions and refreshes due ones; it returns when it
// next has work.
func (s *Store) tick(ctx context.Context) time.Time {
	now := s.now()
	next := now.Add(maxSleep)
	for uid, e := range *s.sessions.Load() {
		if ctx.Err() != nil {
			return next
		}
		exp := e.sess.Identity.Expiry
		switch {
		case !now.Before(exp):
			reason := ReasonExpired
			if e.refreshErr != "" {
				reason = ReasonRefreshFailed
			}
			s.end(uid, e, reason)
			continue
		case e.canRefresh() && !now.Before(e.nextRefresh):
			s.refresh(ctx, uid, e)
			next = now // schedule the new entry on another pass at once
			continue
		}
		due := exp
		if e.canRefresh() && e.nextRefresh.Before(due) {
			due = e.nextRefresh
		}
		if due.Before(next) {
			next = due
		}
	}
	return next
}

// refreshAt is when a token obtained at now and expiring at exp is renewed.
func (s *Store) refreshAt(now, exp time.Time) time.Time {
	at := exp.Add(-s.cfg.RefreshBefore)
	if half := now.Add(exp.Sub(now) / 2); at.Before(half) {
		at = half
	}
	if gap := now.Add(minRefreshGap); at.Before(gap) {
		at = gap
	}
	return at
}

// refresh renews the session e of uid with its refresh token.
func (s *Store) refresh(ctx context.Context, uid uint32, e *entry) {
	log := s.log.With("uid", uid, "sub", e.sess.Identity.Subject)
	tok, err := s.redeem(ctx, e.tok.RefreshToken)
	if err != nil {
		s.refreshFailed(uid, e, err, permanent(err))
		return
	}
	next := Tokens{AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken, Expiry: tok.Expiry}
	if raw, _ := tok.Extra("id_token").(string); raw != "" {
		next.IDToken = raw
	}
	if next.RefreshToken == "" {
		next.RefreshToken = e.tok.RefreshToken
	}
	id, err := s.verify(ctx, next)
	if err != nil {
		var te *identity.TokenError
		final := !errors.As(err, &te) || te.Cause != identity.CauseUnavailable
		s.refreshFailed(uid, e, fmt.Errorf("verify refreshed token: %w", err), final)
		return
	}
	old := e.sess.Identity
	if id.Subject != old.Subject || id.Issuer != old.Issuer {
		log.Warn("refreshed token names another subject; ending the session", "new_sub", id.Subject)
		s.end(uid, e, ReasonRevoked)
		return
	}
	now := s.now()
	ne := &entry{
		sess: &Session{UID: uid, Identity: id, LoginAt: e.sess.LoginAt, RefreshedAt: now, AutoRefresh: true},
		tok:  next,
	}
	ne.nextRefresh = s.refreshAt(now, id.Expiry)
	s.mu.Lock()
	defer s.mu.Unlock()
	if (*s.sessions.Load())[uid] != e {
		return // logged out or replaced meanwhile
	}
	if err := s.commit(true, func(m sessionMap) { m[uid] = ne }); err != nil {
		log.Error("persist host sessions", "err", err)
	}
	log.Debug("host session refreshed", "expiry", id.Expiry)
}

// redeem trades a refresh token for new tokens.
func (s *Store) redeem(ctx context.Context, refreshToken string) (*oauth2.Token, error) {
	ctx, cancel := context.WithTimeout(ctx, refreshTimeout)
	defer cancel()
	ctx = context.WithValue(ctx, oauth2.HTTPClient, s.cfg.HTTPClient)
	conf, err := s.oauth2Config(ctx)
	if err != nil {
		return nil, err
	}
	tok, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: refreshToken}).Token()
	if err != nil {
		return nil, fmt.Errorf("refresh token: %w", err)
	}
	return tok, nil
}

// permanent reports whether a refresh error will not go away by retrying.
func permanent(err error) bool {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		return false
	}
	switch re.ErrorCode {
	case "invalid_grant", "invalid_client", "unauthorized_client", "unsupported_grant_type", "invalid_scope":
		return true
	}
	return false
}

// refreshFailed records a failed refresh: the session keeps its expiry; a
// transient failure is retried with backoff before then.
func (s *Store) refreshFailed(uid uint32, e *entry, err error, final bool) {
	now := s.now()
	ne := *e
	ne.refreshErr = err.Error()
	ne.attempts++
	ne.noRefresh = final
	backoff := min(time.Duration(1<<min(ne.attempts, 6))*time.Second, maxRetryBackoff)
	ne.nextRefresh = now.Add(backoff)
	s.log.Warn("host session refresh failed", "uid", uid, "sub", e.sess.Identity.Subject, "err", err,
		"final", final, "expiry", e.sess.Identity.Expiry)
	s.mu.Lock()
	defer s.mu.Unlock()
	if (*s.sessions.Load())[uid] != e {
		return
	}
	if err := s.commit(true, func(m sessionMap) { m[uid] = &ne }); err != nil {
		s.log.Error("persist host sessions", "err", err)
	}
}

// refreshConfigured reports whether the store can refresh at all.
func (s *Store) refreshConfigured() bool {
	return s.cfg.OAuth2 != nil || (s.cfg.Issuer != "" && s.cfg.ClientID != "")
}

// oauth2Config returns the refresh client, discovering the token endpoint
// on first use.
func (s *Store) oauth2Config(ctx context.Context) (*oauth2.Config, error) {
	s.oauthMu.Lock()
	defer s.oauthMu.Unlock()
	if s.oauth != nil {
		return s.oauth, nil
	}
	if !s.refreshConfigured() {
		return nil, errors.New("refresh is not configured (no issuer and client id)")
	}
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, s.cfg.HTTPClient), s.cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("oidc discovery: %w", err)
	}
	ep := p.Endpoint()
	ep.AuthStyle = oauth2.AuthStyleInParams // a public client has no secret
	s.oauth = &oauth2.Config{ClientID: s.cfg.ClientID, Endpoint: ep, Scopes: Scopes}
	return s.oauth, nil
}
