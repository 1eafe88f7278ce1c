package identity

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/interlock-dev/interlock/testenv"
)

func TestVerify(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an OIDC issuer")
	}
	ctx := context.Background()
	iss := testenv.NewIssuer(t, testenv.IssuerOptions{})
	v, err := New(ctx, Config{Issuer: iss.URL, Audience: iss.Audience})
	if err != nil {
		t.Fatal(err)
	}
	mint := func(o testenv.MintOptions) string {
		t.Helper()
		tok, err := iss.Mint(o)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	id, err := v.Verify(ctx, mint(testenv.MintOptions{Subject: "carol", Email: "carol@example.com", Groups: []string{"readers", "x"}}))
	if err != nil {
		t.Fatal(err)
	}
	if id.Subject != "carol" || id.Email != "carol@example.com" || !slices.Equal(id.Groups, []string{"readers", "x"}) || id.Expiry.Before(time.Now()) {
		t.Fatalf("identity %+v", id)
	}

	// Key rotation: the verifier cached the old key set and must refetch.
	if _, err := iss.RotateKey(); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(ctx, mint(testenv.MintOptions{Subject: "carol"})); err != nil {
		t.Fatalf("token signed with the rotated key: %v", err)
	}

	causes := []struct {
		name  string
		tok   func() (string, error)
		cause Cause
	}{
		{"expired", func() (string, error) {
			return iss.Mint(testenv.MintOptions{Subject: "c", IssuedAt: time.Now().Add(-time.Hour), Expiry: time.Now().Add(-time.Minute)})
		}, CauseExpired},
		{"audience", func() (string, error) {
			return iss.Mint(testenv.MintOptions{Subject: "c", Audience: []string{"other"}})
		}, CauseWrongAudience},
		{"issuer", func() (string, error) {
			return iss.Mint(testenv.MintOptions{Subject: "c", Issuer: "https://evil.example"})
		}, CauseUnknownIssuer},
		{"foreign key", func() (string, error) { return iss.MintForeignKey(testenv.MintOptions{Subject: "c"}) }, CauseBadSignature},
		{"alg none", func() (string, error) { return iss.MintAlgNone(testenv.MintOptions{Subject: "c"}) }, CauseUnsigned},
		{"hs256", func() (string, error) { return iss.MintHS256PublicKey(testenv.MintOptions{Subject: "c"}) }, CauseAlgorithm},
		{"garbage", func() (string, error) { return "a.b.c", nil }, CauseMalformed},
		{"two parts", func() (string, error) { return "abc.def", nil }, CauseMalformed},
		{"no sub", func() (string, error) { return iss.Mint(testenv.MintOptions{}) }, CauseClaims},
		{"groups not strings", func() (string, error) {
			return iss.Mint(testenv.MintOptions{Subject: "c", Extra: map[string]any{"groups": []any{1, 2}}})
		}, CauseClaims},
	}
	for _, tc := range causes {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := tc.tok()
			if err != nil {
				t.Fatal(err)
			}
			_, err = v.Verify(ctx, tok)
			var te *TokenError
			if !errors.As(err, &te) || te.Cause != tc.cause {
				t.Fatalf("got %v, want cause %s", err, tc.cause)
			}
		})
	}
}

func TestGroupsClaimPath(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an OIDC issuer")
	}
	ctx := context.Background()
	iss := testenv.NewIssuer(t, testenv.IssuerOptions{})
	v, err := New(ctx, Config{Issuer: iss.URL, Audience: iss.Audience, GroupsClaim: "realm_access.roles"})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := iss.Mint(testenv.MintOptions{Subject: "c", Extra: map[string]any{"realm_access": map[string]any{"roles": []any{"writers"}}}})
	if err != nil {
		t.Fatal(err)
	}
	id, err := v.Verify(ctx, tok)
	if err != nil || !slices.Equal(id.Groups, []string{"writers"}) {
		t.Fatalf("groups %v, %v", id, err)
	}
}

func TestIssuerUnavailableFailsClosed(t *testing.T) {
	ctx := context.Background()
	v, err := New(ctx, Config{Issuer: "http://127.0.0.1:1", Audience: "interlock"})
	if err != nil {
		t.Fatal(err)
	}
	// A syntactically valid, unverifiable token for that issuer.
	tok := "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJodHRwOi8vMTI3LjAuMC4xOjEiLCJzdWIiOiJ4In0.c2ln"
	_, err = v.Verify(ctx, tok)
	var te *TokenError
	if !errors.As(err, &te) || te.Cause != CauseUnavailable {
		t.Fatalf("got %v, want issuer_unavailable", err)
	}
}
