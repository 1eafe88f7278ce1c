package hostsession

import (
	"testing"
	"time"

	"github.com/interlock-dev/interlock/testenv"
)

// shortIssuer issues 3s access and ID tokens.
func shortIssuer(t *testing.T) *testenv.Issuer {
	return testenv.NewIssuer(t, testenv.IssuerOptions{AccessTokenTTL: 3 * time.Second, IDTokenTTL: 3 * time.Second})
}

func TestRefreshKeepsSessionAlive(t *testing.T) {
	iss := shortIssuer(t)
	cfg := storeConfig(t, iss)
	cfg.RefreshBefore = 2 * time.Second
	s := openStore(t, cfg)
	ends := subscribe(t, s)
	runStore(t, s)

	if _, err := s.Login(testCtx(t), 1000, codeLogin(t, iss, "carol")); err != nil {
		t.Fatalf("login: %v", err)
	}
	first, _ := s.Lookup(1000)
	exp0 := first.Expiry()
	// Past the first token's expiry, the session is still there, renewed.
	testenv.WaitFor(t, 10*time.Second, "the first token's expiry to pass with the session alive", func() bool {
		sess, ok := s.Lookup(1000)
		if !ok {
			t.Fatal("session ended although it has a refresh token")
		}
		return time.Now().After(exp0.Add(500*time.Millisecond)) && sess.Expiry().After(exp0)
	})
	sess, _ := s.Lookup(1000)
	if sess.RefreshedAt.IsZero() || sess.Identity.Subject != "carol" || !sess.AutoRefresh || !sess.LoginAt.Equal(first.LoginAt) {
		t.Errorf("refreshed session %+v", sess)
	}
	ends.none(t)

	// The rotated refresh token was persisted: a restarted store goes on
	// refreshing with it (the issuer revoked the earlier ones).
	s.Close()
	s2 := openStore(t, cfg)
	runStore(t, s2)
	sess2, ok := s2.Lookup(1000)
	if !ok {
		t.Fatal("restarted store lost the session")
	}
	exp1 := sess2.Expiry()
	testenv.WaitFor(t, 10*time.Second, "a refresh by the restarted store", func() bool {
		sess, ok := s2.Lookup(1000)
		if !ok {
			t.Fatal("restarted store let the session expire")
		}
		return time.Now().After(exp1) && sess.Expiry().After(exp1)
	})
}

func TestRefreshFailureEndsSessionAtExpiry(t *testing.T) {
	iss := shortIssuer(t)
	tests := []struct {
		name       string
		tokens     func(t *testing.T) Tokens
		after      func(t *testing.T, tok Tokens)
		wantReason string
		wantAuto   bool
	}{
		{
			name: "invalid refresh token",
			tokens: func(t *testing.T) Tokens {
				tok := codeLogin(t, iss, "alice")
				tok.RefreshToken = "not-a-refresh-token"
				return tok
			},
			wantReason: ReasonRefreshFailed,
			wantAuto:   true,
		},
		{
			name:       "revoked refresh token",
			tokens:     func(t *testing.T) Tokens { return codeLogin(t, iss, "bob") },
			after:      func(t *testing.T, tok Tokens) { revokeRefresh(t, iss, tok.RefreshToken) },
			wantReason: ReasonRefreshFailed,
			wantAuto:   true,
		},
		{
			name:       "no refresh token",
			tokens:     func(t *testing.T) Tokens { tok := codeLogin(t, iss, "carol"); tok.RefreshToken = ""; return tok },
			wantReason: ReasonExpired,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := storeConfig(t, iss)
			cfg.RefreshBefore = 2 * time.Second
			s := openStore(t, cfg)
			ends := subscribe(t, s)
			tok := tc.tokens(t)
			if tc.after != nil {
				tc.after(t, tok)
			}
			runStore(t, s)
			if _, err := s.Login(testCtx(t), 1000, tok); err != nil {
				t.Fatalf("login: %v", err)
			}
			sess, _ := s.Lookup(1000)
			if sess.AutoRefresh != tc.wantAuto {
				t.Errorf("auto refresh %v, want %v", sess.AutoRefresh, tc.wantAuto)
			}
			e := ends.next(t, 10*time.Second)
			if e != (endEvent{1000, tc.wantReason}) {
				t.Errorf("notification %+v, want uid 1000 %s", e, tc.wantReason)
			}
			if now := time.Now(); now.Before(sess.Expiry()) {
				t.Errorf("session ended at %s, before its expiry %s", now, sess.Expiry())
			}
			if _, ok := s.Lookup(1000); ok {
				t.Error("lookup finds the ended session")
			}
			if got := len(readFile(t, cfg.Path).Sessions); got != 0 {
				t.Errorf("session file still has %d sessions", got)
			}
		})
	}
}

func TestLookupHidesExpiredWithoutRun(t *testing.T) {
	iss := testenv.NewIssuer(t, testenv.IssuerOptions{})
	now := time.Now()
	cfg := storeConfig(t, iss)
	cfg.Clock = func() time.Time { return now }
	s := openStore(t, cfg)
	if _, err := s.Login(testCtx(t), 1000, Tokens{AccessToken: mint(t, iss, testenv.MintOptions{User: "alice"})}); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Lookup(1000); !ok {
		t.Fatal("no session")
	}
	now = now.Add(time.Hour) // nobody runs the refresher
	if _, ok := s.Lookup(1000); ok {
		t.Error("lookup returns a session past its expiry")
	}
}

func TestRefreshAt(t *testing.T) {
	s := &Store{cfg: Config{RefreshBefore: time.Minute}}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		life, want time.Duration
	}{
		{time.Hour, 59 * time.Minute},        // a minute before expiry
		{90 * time.Second, 45 * time.Second}, // capped at half the life
		{3 * time.Second, 1500 * time.Millisecond},
		{time.Second, time.Second}, // never sooner than a second
	}
	for _, tc := range tests {
		if got := s.refreshAt(now, now.Add(tc.life)).Sub(now); got != tc.want {
			t.Errorf("life %s: refresh after %s, want %s", tc.life, got, tc.want)
		}
	}
}

func TestRefreshIssuerDown(t *testing.T) {
	iss := shortIssuer(t)
	cfg := storeConfig(t, iss)
	cfg.RefreshBefore = 2 * time.Second
	s := openStore(t, cfg)
	ends := subscribe(t, s)
	if _, err := s.Login(testCtx(t), 1000, codeLogin(t, iss, "alice")); err != nil {
		t.Fatalf("login: %v", err)
	}
	if err := iss.Close(); err != nil {
		t.Fatal(err)
	}
	runStore(t, s)
	if e := ends.next(t, 10*time.Second); e != (endEvent{1000, ReasonRefreshFailed}) {
		t.Errorf("notification %+v, want uid 1000 refresh_failed", e)
	}
}
