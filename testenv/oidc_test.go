package testenv

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

func TestIssuerDiscoveryAndJWKS(t *testing.T) {
	t.Parallel()
	iss := NewIssuer(t, IssuerOptions{})
	if !strings.HasPrefix(iss.URL, "http://127.0.0.1:") {
		t.Errorf("issuer URL %q is not loopback", iss.URL)
	}
	var disc struct {
		Issuer        string   `json:"issuer"`
		JWKS          string   `json:"jwks_uri"`
		Device        string   `json:"device_authorization_endpoint"`
		Grants        []string `json:"grant_types_supported"`
		PKCE          []string `json:"code_challenge_methods_supported"`
		IDTokenAlgs   []string `json:"id_token_signing_alg_values_supported"`
		TokenEndpoint string   `json:"token_endpoint"`
	}
	getJSON(t, iss.DiscoveryURL(), &disc)
	if disc.Issuer != iss.URL || disc.JWKS != iss.JWKSURL() || disc.TokenEndpoint != iss.Endpoint().TokenURL || disc.Device != iss.Endpoint().DeviceAuthURL {
		t.Errorf("discovery = %+v, want issuer %s, jwks %s, endpoints %+v", disc, iss.URL, iss.JWKSURL(), iss.Endpoint())
	}
	for _, g := range []string{GrantAuthorizationCode, GrantRefreshToken, GrantDeviceCode, GrantClientCredentials} {
		if !slices.Contains(disc.Grants, g) {
			t.Errorf("grant_types_supported %v lacks %s", disc.Grants, g)
		}
	}
	if !slices.Contains(disc.PKCE, "S256") {
		t.Errorf("code_challenge_methods_supported %v lacks S256", disc.PKCE)
	}
	if !slices.Equal(disc.IDTokenAlgs, []string{"RS256"}) {
		t.Errorf("id_token_signing_alg_values_supported = %v, want [RS256]", disc.IDTokenAlgs)
	}
	var jwks jose.JSONWebKeySet
	getJSON(t, iss.JWKSURL(), &jwks)
	if len(jwks.Keys) != 1 || jwks.Keys[0].KeyID != iss.KeyID() || !jwks.Keys[0].IsPublic() || jwks.Keys[0].Use != "sig" {
		t.Errorf("jwks = %+v, want one public signing key %s", jwks.Keys, iss.KeyID())
	}
}

func TestIssuerMintedTokens(t *testing.T) {
	t.Parallel()
	iss := NewIssuer(t, IssuerOptions{})
	v := newVerifiers(t, iss)
	ctx := testCtx(t)

	good, err := iss.Mint(MintOptions{User: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	tok, c := mustVerify(t, v.access, good)
	checkUser(t, "minted", iss, c, "alice")
	if !slices.Equal(tok.Audience, []string{iss.Audience}) {
		t.Errorf("aud = %v, want [%s]", tok.Audience, iss.Audience)
	}

	mint := func(f func(MintOptions) (string, error), o MintOptions) string {
		t.Helper()
		s, err := f(o)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	alice := MintOptions{User: "alice"}
	bad := map[string]string{
		"expired":              mint(iss.Mint, MintOptions{User: "alice", IssuedAt: time.Now().Add(-time.Hour), Expiry: time.Now().Add(-time.Minute)}),
		"wrong audience":       mint(iss.Mint, MintOptions{User: "alice", Audience: []string{"someone-else"}}),
		"unknown issuer":       mint(iss.Mint, MintOptions{User: "alice", Issuer: "http://127.0.0.1:1/evil"}),
		"no expiry":            mint(iss.Mint, MintOptions{User: "alice", Extra: map[string]any{"exp": nil}}),
		"foreign key":          mint(iss.MintForeignKey, alice),
		"foreign key same kid": mint(iss.MintForeignKey, MintOptions{User: "alice", KeyID: iss.KeyID()}),
		"alg none":             mint(iss.MintAlgNone, alice),
		"hs256 public key":     mint(iss.MintHS256PublicKey, alice),
	}
	malformed, err := iss.MalformedTokens(alice)
	if err != nil {
		t.Fatal(err)
	}
	for name, s := range malformed {
		bad["malformed "+name] = s
	}
	for name, raw := range bad {
		t.Run(name, func(t *testing.T) {
			if _, err := v.access.Verify(ctx, raw); err == nil {
				t.Errorf("go-oidc accepted %s token", name)
			}
		})
	}

	// The forgeries are what they claim to be, so the rejections above
	// are for the right reason.
	t.Run("forgeries are well formed", func(t *testing.T) {
		secret, err := iss.PublicKeyPEM()
		if err != nil {
			t.Fatal(err)
		}
		jws, err := jose.ParseSigned(bad["hs256 public key"], []jose.SignatureAlgorithm{jose.HS256})
		if err != nil {
			t.Fatalf("parse hs256 forgery: %v", err)
		}
		if _, err := jws.Verify(secret); err != nil {
			t.Errorf("hs256 forgery does not verify with the public key PEM as secret: %v", err)
		}
		header, _, _ := strings.Cut(bad["alg none"], ".")
		var h map[string]string
		if err := json.Unmarshal(mustB64(t, header), &h); err != nil || h["alg"] != "none" || !strings.HasSuffix(bad["alg none"], ".") {
			t.Errorf("alg none header = %v (err %v), want alg none and an empty signature", h, err)
		}
		if _, err := jose.ParseSigned(bad["foreign key"], []jose.SignatureAlgorithm{jose.RS256}); err != nil {
			t.Errorf("foreign key token is not a valid RS256 JWS: %v", err)
		}
	})
}

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

func TestIssuerKeyRotation(t *testing.T) {
	t.Parallel()
	for _, drop := range []bool{false, true} {
		name := "grace"
		if drop {
			name = "drop"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			iss := NewIssuer(t, IssuerOptions{DropRetiredKeys: drop})
			fetches := &countingTransport{path: "/keys"}
			ctx := withClient(testCtx(t), fetches)
			verifier := oidc.NewVerifier(iss.URL, oidc.NewRemoteKeySet(ctx, iss.JWKSURL()), &oidc.Config{ClientID: iss.Audience})

			oldKID := iss.KeyID()
			oldTok, err := iss.Mint(MintOptions{User: "alice"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := verifier.Verify(ctx, oldTok); err != nil {
				t.Fatalf("verify before rotation: %v", err)
			}
			if n := fetches.n.Load(); n != 1 {
				t.Fatalf("jwks fetched %d times, want 1", n)
			}

			newKID, err := iss.RotateKey()
			if err != nil {
				t.Fatal(err)
			}
			if newKID == oldKID || iss.KeyID() != newKID {
				t.Fatalf("kid after rotation = %q (returned %q), old %q", iss.KeyID(), newKID, oldKID)
			}
			newTok, err := iss.Mint(MintOptions{User: "alice"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := verifier.Verify(ctx, newTok); err != nil {
				t.Fatalf("verify after rotation with the cached verifier: %v", err)
			}
			if n := fetches.n.Load(); n != 2 {
				t.Errorf("jwks fetched %d times, want 2 (refetch on the unknown kid)", n)
			}

			var jwks jose.JSONWebKeySet
			getJSON(t, iss.JWKSURL(), &jwks)
			var kids []string
			for _, k := range jwks.Keys {
				kids = append(kids, k.KeyID)
			}
			wantKIDs := []string{newKID, oldKID}
			if drop {
				wantKIDs = wantKIDs[:1]
			}
			if !slices.Equal(kids, wantKIDs) {
				t.Errorf("jwks kids = %v, want %v", kids, wantKIDs)
			}
			fresh := oidc.NewVerifier(iss.URL, oidc.NewRemoteKeySet(ctx, iss.JWKSURL()), &oidc.Config{ClientID: iss.Audience})
			_, err = fresh.Verify(ctx, oldTok)
			if drop && err == nil {
				t.Error("token signed with a dropped key still verifies")
			}
			if !drop && err != nil {
				t.Errorf("token signed with a retired key in its grace period: %v", err)
			}
		})
	}
}

func TestIssuerLifetimesAndGroupsClaim(t *testing.T) {
	t.Parallel()
	iss := NewIssuer(t, IssuerOptions{
		GroupsClaim:    "roles",
		AccessTokenTTL: 2 * time.Second,
		IDTokenTTL:     3 * time.Second,
		Algorithm:      "ES256",
		Users:          []User{{Subject: "dave", Email: "dave@example.com", Groups: []string{"ops"}}},
	})
	iss.AddUser(User{Subject: "erin", Email: "erin@example.com", Groups: []string{"sec", "ops"}})
	if err := iss.SetLoginUser("erin"); err != nil {
		t.Fatal(err)
	}
	v := newVerifiers(t, iss)
	l := newLoopbackRedirect(t)
	tok := codeFlow(t, iss.OAuth2Config(l.URL), l)

	var ac, ic struct {
		Roles []string `json:"roles"`
		Iat   int64    `json:"iat"`
		Exp   int64    `json:"exp"`
	}
	at, err := v.access.Verify(testCtx(t), tok.AccessToken)
	if err != nil {
		t.Fatalf("verify ES256 access token: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	it, err := v.id.Verify(testCtx(t), raw)
	if err != nil {
		t.Fatalf("verify ES256 id token: %v", err)
	}
	at.Claims(&ac)
	it.Claims(&ic)
	if !slices.Equal(ac.Roles, []string{"sec", "ops"}) || !slices.Equal(ic.Roles, []string{"sec", "ops"}) {
		t.Errorf("roles claim: access %v, id %v, want [sec ops]", ac.Roles, ic.Roles)
	}
	if d := ac.Exp - ac.Iat; d != 2 {
		t.Errorf("access token lifetime %ds, want 2s", d)
	}
	if d := ic.Exp - ic.Iat; d < 2 || d > 3 {
		t.Errorf("id token lifetime %ds, want 3s", d)
	}
	if tok.Expiry.After(time.Now().Add(3 * time.Second)) {
		t.Errorf("token response expiry %v, want within 2s", time.Until(tok.Expiry))
	}
}

func TestIssuerClientCredentialsAndUserinfo(t *testing.T) {
	t.Parallel()
	iss := NewIssuer(t, IssuerOptions{})
	if err := iss.AddClient(IssuerClient{ID: "ci-job", Secret: "ci-secret", Groups: []string{"ci"}}); err != nil {
		t.Fatal(err)
	}
	v := newVerifiers(t, iss)
	ctx := testCtx(t)

	cc := clientcredentials.Config{ClientID: "ci-job", ClientSecret: "ci-secret", TokenURL: iss.Endpoint().TokenURL}
	tok, err := cc.Token(ctx)
	if err != nil {
		t.Fatalf("client credentials: %v", err)
	}
	at, c := mustVerify(t, v.access, tok.AccessToken)
	if c.Subject != "ci-job" || !slices.Equal(c.Groups, []string{"ci"}) || !slices.Contains(at.Audience, iss.Audience) {
		t.Errorf("client credentials token: sub %q groups %v aud %v", c.Subject, c.Groups, at.Audience)
	}
	cc.ClientSecret = "wrong"
	if _, err := cc.Token(ctx); err == nil {
		t.Error("client credentials with a wrong secret succeeded")
	}

	l := newLoopbackRedirect(t)
	user := codeFlow(t, iss.OAuth2Config(l.URL), l)
	info, err := v.provider.UserInfo(ctx, oauth2.StaticTokenSource(user))
	if err != nil {
		t.Fatalf("userinfo: %v", err)
	}
	if info.Subject != "alice" || info.Email != "alice@example.com" {
		t.Errorf("userinfo = %+v, want alice", info)
	}
}

func TestIssuerCloseTwice(t *testing.T) {
	iss, err := StartIssuer(testCtx(t), IssuerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := iss.Close(); err != nil {
		t.Fatal(err)
	}
	if err := iss.Close(); err != nil {
		t.Errorf("second close: %v", err)
	}
	if resp, err := http.Get(iss.DiscoveryURL()); err == nil {
		resp.Body.Close()
		t.Error("issuer still serving after Close")
	}
}
