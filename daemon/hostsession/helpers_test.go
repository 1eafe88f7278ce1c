package hostsession

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/interlock-dev/interlock/daemon/identity"
	"github.com/interlock-dev/interlock/testenv"
)

func testCtx(t *testing.T) context.Context { return testenv.Context(t, time.Minute) }

func newVerifier(t *testing.T, iss *testenv.Issuer) *identity.Verifier {
	t.Helper()
	v, err := identity.New(testCtx(t), identity.Config{Issuer: iss.URL, Audience: iss.Audience, GroupsClaim: iss.GroupsClaim})
	if err != nil {
		t.Fatalf("new verifier: %v", err)
	}
	return v
}

// storeConfig is a store of iss's sessions in a fresh directory.
func storeConfig(t *testing.T, iss *testenv.Issuer) Config {
	t.Helper()
	return Config{
		Path:     filepath.Join(t.TempDir(), "sessions", "sessions.json"),
		Verifier: newVerifier(t, iss),
		Issuer:   iss.URL,
		ClientID: iss.ClientID,
	}
}

// openStore opens a store and closes it at cleanup.
func openStore(t *testing.T, cfg Config) *Store {
	t.Helper()
	s, err := New(testCtx(t), cfg)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// runStore runs the refresher until cleanup.
func runStore(t *testing.T, s *Store) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
}

// codeLogin runs authorization code + PKCE as sub (login_hint) and
// returns the tokens the CLI would hand over.
func codeLogin(t *testing.T, iss *testenv.Issuer, sub string) Tokens {
	t.Helper()
	const redirect = "http://127.0.0.1:9/callback" // never dialled
	conf := iss.OAuth2Config(redirect)
	verifier := oauth2.GenerateVerifier()
	authURL := conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("login_hint", sub))
	browser := &http.Client{CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(req.URL.String(), redirect) {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	resp, err := browser.Get(authURL)
	if err != nil {
		t.Fatalf("authorize: %v", err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || loc.Query().Get("code") == "" {
		t.Fatalf("authorize: status %d, location %q: no code", resp.StatusCode, resp.Header.Get("Location"))
	}
	tok, err := conf.Exchange(testCtx(t), loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	idt, _ := tok.Extra("id_token").(string)
	return Tokens{IDToken: idt, AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken, Expiry: tok.Expiry}
}

// revokeRefresh revokes a refresh token at the issuer (RFC 7009).
func revokeRefresh(t *testing.T, iss *testenv.Issuer, rt string) {
	t.Helper()
	resp, err := http.PostForm(iss.URL+"/revoke", url.Values{
		"token": {rt}, "token_type_hint": {"refresh_token"}, "client_id": {iss.ClientID},
	})
	if err != nil {
		t.Fatalf("revoke: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke: status %s", resp.Status)
	}
}

func mint(t *testing.T, iss *testenv.Issuer, o testenv.MintOptions) string {
	t.Helper()
	tok, err := iss.Mint(o)
	if err != nil {
		t.Fatalf("mint: %v", err)
	}
	return tok
}

type endEvent struct {
	uid    uint32
	reason string
}

func subscribe(t *testing.T, s *Store) *endRecorder {
	t.Helper()
	r := &endRecorder{ch: make(chan endEvent, 64)}
	t.Cleanup(s.Subscribe(func(uid uint32, reason string) { r.ch <- endEvent{uid, reason} }))
	return r
}

type endRecorder struct{ ch chan endEvent }

// next waits for the next notification.
func (r *endRecorder) next(t *testing.T, timeout time.Duration) endEvent {
	t.Helper()
	select {
	case e := <-r.ch:
		return e
	case <-time.After(timeout):
		t.Fatalf("no session-end notification within %s", timeout)
		return endEvent{}
	}
}

// none checks that nothing was notified so far.
func (r *endRecorder) none(t *testing.T) {
	t.Helper()
	select {
	case e := <-r.ch:
		t.Errorf("unexpected notification uid %d reason %s", e.uid, e.reason)
	default:
	}
}

func tokenCause(err error) identity.Cause {
	var te *identity.TokenError
	if errors.As(err, &te) {
		return te.Cause
	}
	return ""
}
