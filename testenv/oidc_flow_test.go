package testenv

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

func TestIssuerAuthCodePKCE(t *testing.T) {
	t.Parallel()
	iss := NewIssuer(t, IssuerOptions{})
	v := newVerifiers(t, iss)
	l := newLoopbackRedirect(t)
	conf := iss.OAuth2Config(l.URL)

	t.Run("default user", func(t *testing.T) {
		tok := codeFlow(t, conf, l, oidc.Nonce("n-1"))
		raw, _ := tok.Extra("id_token").(string)
		idTok, c := mustVerify(t, v.id, raw)
		checkUser(t, "id token", iss, c, "alice")
		if c.Nonce != "n-1" {
			t.Errorf("nonce = %q, want n-1", c.Nonce)
		}
		if err := idTok.VerifyAccessToken(tok.AccessToken); err != nil {
			t.Errorf("at_hash: %v", err)
		}
		at, ac := mustVerify(t, v.access, tok.AccessToken)
		checkUser(t, "access token", iss, ac, "alice")
		if !slices.Contains(at.Audience, iss.Audience) || !slices.Contains(at.Audience, iss.ClientID) {
			t.Errorf("access token aud = %v, want %s and %s", at.Audience, iss.Audience, iss.ClientID)
		}
		if tok.RefreshToken == "" {
			t.Error("no refresh token with offline_access")
		}
	})

	t.Run("login_hint", func(t *testing.T) {
		tok := codeFlow(t, conf, l, oauth2.SetAuthURLParam("login_hint", "bob@example.com"))
		_, c := mustVerify(t, v.access, tok.AccessToken)
		checkUser(t, "access token", iss, c, "bob")
	})

	t.Run("SetLoginUser", func(t *testing.T) {
		if err := iss.SetLoginUser("carol"); err != nil {
			t.Fatal(err)
		}
		defer iss.SetLoginUser("")
		tok := codeFlow(t, conf, l)
		_, c := mustVerify(t, v.access, tok.AccessToken)
		checkUser(t, "access token", iss, c, "carol")
		if err := iss.SetLoginUser("nobody"); err == nil {
			t.Error("SetLoginUser(nobody) succeeded")
		}
	})

	t.Run("any loopback path and port", func(t *testing.T) {
		l2 := newLoopbackRedirect(t)
		conf2 := iss.OAuth2Config(strings.TrimSuffix(l2.URL, "/callback") + "/some/other/path")
		codeFlow(t, conf2, l2)
	})

	t.Run("no refresh token without offline_access", func(t *testing.T) {
		tok := codeFlow(t, iss.OAuth2Config(l.URL, "openid", "email"), l)
		if tok.RefreshToken != "" {
			t.Error("got a refresh token without offline_access")
		}
	})

	t.Run("denied login", func(t *testing.T) {
		iss.DenyLogins(true)
		defer iss.DenyLogins(false)
		q, status := authorize(t, conf.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), l)
		if q.Get("error") != "access_denied" || q.Get("code") != "" {
			t.Errorf("redirect = %v (status %d), want error=access_denied", q, status)
		}
	})

	t.Run("PKCE required", func(t *testing.T) {
		for name, opts := range map[string][]oauth2.AuthCodeOption{
			"no challenge":    nil,
			"plain challenge": {oauth2.SetAuthURLParam("code_challenge", "abc"), oauth2.SetAuthURLParam("code_challenge_method", "plain")},
		} {
			q, status := authorize(t, conf.AuthCodeURL("s", opts...), l)
			if q.Get("error") != "invalid_request" || q.Get("code") != "" {
				t.Errorf("%s: redirect = %v (status %d), want error=invalid_request", name, q, status)
			}
		}
	})

	t.Run("wrong verifier and code reuse", func(t *testing.T) {
		verifier := oauth2.GenerateVerifier()
		q, _ := authorize(t, conf.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)), l)
		code := q.Get("code")
		if code == "" {
			t.Fatalf("no code: %v", q)
		}
		if _, err := conf.Exchange(testCtx(t), code, oauth2.VerifierOption(oauth2.GenerateVerifier())); err == nil {
			t.Error("exchange with the wrong verifier succeeded")
		}
		if _, err := conf.Exchange(testCtx(t), code); err == nil {
			t.Error("exchange without verifier succeeded")
		}
		if _, err := conf.Exchange(testCtx(t), code, oauth2.VerifierOption(verifier)); err != nil {
			t.Fatalf("exchange: %v", err)
		}
		if _, err := conf.Exchange(testCtx(t), code, oauth2.VerifierOption(verifier)); err == nil {
			t.Error("second exchange of the same code succeeded")
		}
	})

	t.Run("non-loopback redirect rejected", func(t *testing.T) {
		bad := iss.OAuth2Config("https://example.invalid/callback")
		q, status := authorize(t, bad.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), l)
		if q != nil || status != http.StatusBadRequest {
			t.Errorf("got redirect %v status %d, want 400 and no redirect", q, status)
		}
	})
}

func TestIssuerDeviceFlow(t *testing.T) {
	t.Parallel()
	iss := NewIssuer(t, IssuerOptions{})
	v := newVerifiers(t, iss)
	conf := iss.OAuth2Config("")

	t.Run("approve", func(t *testing.T) {
		ctx := testCtx(t)
		da, err := conf.DeviceAuth(ctx)
		if err != nil {
			t.Fatalf("device auth: %v", err)
		}
		if da.Interval != 1 || !strings.HasPrefix(da.VerificationURI, iss.URL) || !strings.Contains(da.VerificationURIComplete, da.UserCode) {
			t.Errorf("device auth response %+v", da)
		}
		approved := make(chan error, 1)
		go func() {
			code, err := iss.WaitDeviceCode(ctx)
			if err == nil && code != da.UserCode {
				err = &mismatchError{code, da.UserCode}
			}
			if err == nil {
				err = iss.ApproveDevice(code, "bob")
			}
			approved <- err
		}()
		tok, err := conf.DeviceAccessToken(ctx, da)
		if err != nil {
			t.Fatalf("device access token: %v", err)
		}
		if err := <-approved; err != nil {
			t.Fatalf("approve: %v", err)
		}
		_, c := mustVerify(t, v.access, tok.AccessToken)
		checkUser(t, "access token", iss, c, "bob")
		raw, _ := tok.Extra("id_token").(string)
		_, ic := mustVerify(t, v.id, raw)
		checkUser(t, "id token", iss, ic, "bob")
		if tok.RefreshToken == "" {
			t.Error("no refresh token with offline_access")
		}
		if err := iss.ApproveDevice(da.UserCode, "bob"); err == nil {
			t.Error("approving a used user code succeeded")
		}
	})

	t.Run("deny", func(t *testing.T) {
		ctx := testCtx(t)
		da, err := conf.DeviceAuth(ctx)
		if err != nil {
			t.Fatalf("device auth: %v", err)
		}
		if err := iss.ApproveDevice(da.UserCode, "nobody"); err == nil {
			t.Error("approving as an unknown user succeeded")
		}
		if err := iss.DenyDevice(da.UserCode); err != nil {
			t.Fatal(err)
		}
		_, err = conf.DeviceAccessToken(ctx, da)
		var re *oauth2.RetrieveError
		if !asRetrieveError(err, &re) || re.ErrorCode != "access_denied" {
			t.Errorf("device access token after deny: %v, want access_denied", err)
		}
	})

	t.Run("verification page approves as login user", func(t *testing.T) {
		ctx := testCtx(t)
		da, err := conf.DeviceAuth(ctx)
		if err != nil {
			t.Fatalf("device auth: %v", err)
		}
		resp, err := browser.Get(da.VerificationURIComplete)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("verification page status %d", resp.StatusCode)
		}
		tok, err := conf.DeviceAccessToken(ctx, da)
		if err != nil {
			t.Fatalf("device access token: %v", err)
		}
		_, c := mustVerify(t, v.access, tok.AccessToken)
		checkUser(t, "access token", iss, c, iss.LoginUser())
	})

	t.Run("unknown user code", func(t *testing.T) {
		if err := iss.ApproveDevice("BCDF-GHJK", "alice"); err == nil {
			t.Error("approving an unknown code succeeded")
		}
	})
}

func TestIssuerRefreshRotation(t *testing.T) {
	t.Parallel()
	iss := NewIssuer(t, IssuerOptions{})
	v := newVerifiers(t, iss)
	l := newLoopbackRedirect(t)
	conf := iss.OAuth2Config(l.URL)
	ctx := testCtx(t)

	first := codeFlow(t, conf, l, oauth2.SetAuthURLParam("login_hint", "carol"))
	refresh := func(rt string) (*oauth2.Token, error) {
		return conf.TokenSource(ctx, &oauth2.Token{RefreshToken: rt}).Token()
	}
	second, err := refresh(first.RefreshToken)
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if second.RefreshToken == "" || second.RefreshToken == first.RefreshToken {
		t.Errorf("refresh token not rotated: %q -> %q", first.RefreshToken, second.RefreshToken)
	}
	if second.AccessToken == first.AccessToken {
		t.Error("refresh returned the same access token")
	}
	_, c := mustVerify(t, v.access, second.AccessToken)
	checkUser(t, "refreshed access token", iss, c, "carol")
	raw, _ := second.Extra("id_token").(string)
	_, ic := mustVerify(t, v.id, raw)
	checkUser(t, "refreshed id token", iss, ic, "carol")

	if _, err := refresh(first.RefreshToken); err == nil {
		t.Error("the rotated-out refresh token still works")
	}
	if _, err := refresh(second.RefreshToken); err != nil {
		t.Errorf("refresh with the new token: %v", err)
	}
	if _, err := refresh("not-a-refresh-token"); err == nil {
		t.Error("refresh with garbage succeeded")
	}
}
