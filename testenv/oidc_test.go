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

func TestIssuerMintUnknownUserAndBadOptions(t *testing.T) {
	t.Parallel()
	iss := NewIssuer(t, IssuerOptions{})
	if _, err := iss.Mint(MintOptions{User: "nobody"}); err == nil {
		t.Error("Mint for an unknown user succeeded")
	}
	for name, opts := range map[string]IssuerOptions{
		"unknown default user": {DefaultUser: "nobody"},
		"bad algorithm":        {Algorithm: "HS256"},
	} {
		if iss, err := StartIssuer(testCtx(t), opts); err == nil {
			iss.Close()
			t.Errorf("%s: StartIssuer succeeded", name)
		}
	}
}
