package hostsession

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/interlock-dev/interlock/daemon/identity"
	"github.com/interlock-dev/interlock/testenv"
)

func TestLoginLookupLogout(t *testing.T) {
	iss := testenv.NewIssuer(t, testenv.IssuerOptions{})
	s := openStore(t, storeConfig(t, iss))
	ends := subscribe(t, s)

	users := []struct {
		uid    uint32
		sub    string
		email  string
		groups []string
	}{
		{1000, "alice", "alice@example.com", []string{"dba", "engineering"}},
		{1001, "bob", "bob@example.com", []string{"engineering"}},
		{1002, "mallory", "mallory@example.com", nil},
	}
	for _, u := range users {
		tok := codeLogin(t, iss, u.sub)
		id, err := s.Login(testCtx(t), u.uid, tok)
		if err != nil {
			t.Fatalf("login %s: %v", u.sub, err)
		}
		if id.Subject != u.sub {
			t.Errorf("login %s: got subject %q", u.sub, id.Subject)
		}
	}
	for _, u := range users {
		sess, ok := s.Lookup(u.uid)
		if !ok {
			t.Fatalf("lookup %d: no session", u.uid)
		}
		id := sess.Identity
		if id.Subject != u.sub || id.Email != u.email || !slices.Equal(id.Groups, u.groups) || id.Issuer != iss.URL {
			t.Errorf("lookup %d: got %+v, want sub %s email %s groups %v", u.uid, id, u.sub, u.email, u.groups)
		}
		if sess.UID != u.uid || !sess.AutoRefresh || sess.LoginAt.IsZero() {
			t.Errorf("lookup %d: session %+v", u.uid, sess)
		}
		if until := time.Until(sess.Expiry()); until < 4*time.Minute || until > 6*time.Minute {
			t.Errorf("lookup %d: expiry in %s, want about 5m", u.uid, until)
		}
	}
	if _, ok := s.Lookup(4242); ok {
		t.Error("lookup of a uid that never logged in found a session")
	}
	if got := len(s.Sessions()); got != len(users) {
		t.Errorf("Sessions() has %d, want %d", got, len(users))
	}

	if !s.Logout(1000) {
		t.Fatal("logout 1000: no session ended")
	}
	if e := ends.next(t, time.Second); e != (endEvent{1000, ReasonLogout}) {
		t.Errorf("notification %+v, want uid 1000 logout", e)
	}
	if _, ok := s.Lookup(1000); ok {
		t.Error("lookup after logout found a session")
	}
	if s.Logout(1000) {
		t.Error("second logout reported a session")
	}
	if _, ok := s.Lookup(1001); !ok {
		t.Error("logout of 1000 ended 1001's session")
	}
	ends.none(t)
}

func TestLoginRejects(t *testing.T) {
	iss := testenv.NewIssuer(t, testenv.IssuerOptions{})
	s := openStore(t, storeConfig(t, iss))
	good := mint(t, iss, testenv.MintOptions{User: "alice"})
	past := time.Now().Add(-time.Hour)
	malformed, err := iss.MalformedTokens(testenv.MintOptions{User: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := iss.MintForeignKey(testenv.MintOptions{User: "alice", KeyID: iss.KeyID()})
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name      string
		tok       Tokens
		wantCause identity.Cause
		wantErr   error
	}{
		{"other audience", Tokens{
			AccessToken: mint(t, iss, testenv.MintOptions{User: "alice", Audience: []string{"some-other-api"}}),
			IDToken:     mint(t, iss, testenv.MintOptions{User: "alice", Audience: []string{"some-other-app"}}),
		}, identity.CauseWrongAudience, nil},
		{"expired access token", Tokens{
			AccessToken: mint(t, iss, testenv.MintOptions{User: "alice", IssuedAt: past.Add(-time.Hour), Expiry: past}),
		}, identity.CauseExpired, nil},
		{"expired id token", Tokens{
			IDToken: mint(t, iss, testenv.MintOptions{User: "alice", IssuedAt: past.Add(-time.Hour), Expiry: past}),
		}, identity.CauseExpired, nil},
		{"tampered", Tokens{AccessToken: malformed["tampered payload"]}, identity.CauseBadSignature, nil},
		{"foreign key", Tokens{AccessToken: foreign}, identity.CauseBadSignature, nil},
		{"garbage id token", Tokens{IDToken: "garbage"}, identity.CauseMalformed, nil},
		{"no token", Tokens{RefreshToken: "r"}, "", ErrNoToken},
		{"opaque access token only", Tokens{AccessToken: "opaque"}, "", ErrNoToken},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id, err := s.Login(testCtx(t), 1000, tc.tok)
			if err == nil {
				t.Fatalf("login succeeded as %+v", id)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("got %v, want %v", err, tc.wantErr)
			}
			if got := tokenCause(err); tc.wantErr == nil && got != tc.wantCause {
				t.Errorf("got cause %q (%v), want %q", got, err, tc.wantCause)
			}
			if _, ok := s.Lookup(1000); ok {
				t.Error("a refused login left a session")
			}
		})
	}

	// Which token is verified: the access token when it is a JWT for us,
	// else the ID token.
	choice := []struct {
		name    string
		tok     Tokens
		wantSub string
	}{
		{"access token wins", Tokens{AccessToken: good, IDToken: mint(t, iss, testenv.MintOptions{User: "bob"})}, "alice"},
		{"access token for another API", Tokens{
			AccessToken: mint(t, iss, testenv.MintOptions{User: "carol", Audience: []string{"userinfo"}}),
			IDToken:     mint(t, iss, testenv.MintOptions{User: "bob"}),
		}, "bob"},
		{"opaque access token", Tokens{AccessToken: "opaque-123", IDToken: mint(t, iss, testenv.MintOptions{User: "carol"})}, "carol"},
	}
	for _, tc := range choice {
		t.Run(tc.name, func(t *testing.T) {
			id, err := s.Login(testCtx(t), 1000, tc.tok)
			if err != nil {
				t.Fatalf("login: %v", err)
			}
			if id.Subject != tc.wantSub {
				t.Errorf("verified subject %q, want %q", id.Subject, tc.wantSub)
			}
		})
	}
	// An expired access token is not silently replaced by the ID token.
	_, err = s.Login(testCtx(t), 1001, Tokens{
		AccessToken: mint(t, iss, testenv.MintOptions{User: "alice", IssuedAt: past.Add(-time.Hour), Expiry: past}),
		IDToken:     good,
	})
	if tokenCause(err) != identity.CauseExpired {
		t.Errorf("expired access token with a valid ID token: got %v, want expired", err)
	}
}

func TestLoginReplaceNotifies(t *testing.T) {
	iss := testenv.NewIssuer(t, testenv.IssuerOptions{})
	s := openStore(t, storeConfig(t, iss))
	ends := subscribe(t, s)
	login := func(sub string) {
		t.Helper()
		if _, err := s.Login(testCtx(t), 1000, Tokens{AccessToken: mint(t, iss, testenv.MintOptions{User: sub})}); err != nil {
			t.Fatalf("login %s: %v", sub, err)
		}
	}
	login("alice")
	login("alice") // same person again: live connections stay
	ends.none(t)
	login("bob")
	if e := ends.next(t, time.Second); e != (endEvent{1000, ReasonReplaced}) {
		t.Errorf("notification %+v, want uid 1000 replaced", e)
	}
	if sess, ok := s.Lookup(1000); !ok || sess.Identity.Subject != "bob" {
		t.Errorf("lookup after relogin: %+v %v, want bob", sess, ok)
	}
	if sess, _ := s.Lookup(1000); sess.AutoRefresh {
		t.Error("a session without refresh token reports auto refresh")
	}
}

func TestClosedStoreRefusesLogin(t *testing.T) {
	iss := testenv.NewIssuer(t, testenv.IssuerOptions{})
	s := openStore(t, storeConfig(t, iss))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	_, err := s.Login(testCtx(t), 1000, Tokens{AccessToken: mint(t, iss, testenv.MintOptions{User: "alice"})})
	if !errors.Is(err, ErrClosed) {
		t.Errorf("login after close: %v, want ErrClosed", err)
	}
}

func TestLookupDoesNotAllocate(t *testing.T) {
	iss := testenv.NewIssuer(t, testenv.IssuerOptions{})
	s := openStore(t, Config{Verifier: newVerifier(t, iss)})
	if _, err := s.Login(testCtx(t), 1000, Tokens{AccessToken: mint(t, iss, testenv.MintOptions{User: "alice"})}); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(1000, func() {
		if _, ok := s.Lookup(1000); !ok {
			t.Fatal("no session")
		}
		s.Lookup(1)
	})
	if allocs != 0 {
		t.Errorf("Lookup allocates %.1f times per call, want 0", allocs)
	}
}

func BenchmarkLookup(b *testing.B) {
	iss := testenv.NewIssuer(b, testenv.IssuerOptions{})
	v, err := identity.New(b.Context(), identity.Config{Issuer: iss.URL, Audience: iss.Audience})
	if err != nil {
		b.Fatal(err)
	}
	s, err := New(b.Context(), Config{Verifier: v})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	tok, err := iss.Mint(testenv.MintOptions{User: "alice"})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := s.Login(b.Context(), 1000, Tokens{AccessToken: tok}); err != nil {
		b.Fatal(err)
	}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, ok := s.Lookup(1000); !ok {
				b.Error("no session")
				return
			}
		}
	})
}
