package testenv

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// loopbackRedirect is the CLI's loopback listener: it records the query of
// each redirect it receives.
type loopbackRedirect struct {
	URL string // e.g. http://127.0.0.1:1234/callback
	got chan url.Values
}

func newLoopbackRedirect(t *testing.T) *loopbackRedirect {
	t.Helper()
	l := &loopbackRedirect{got: make(chan url.Values, 1)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l.got <- r.URL.Query()
		w.Write([]byte("logged in"))
	}))
	t.Cleanup(srv.Close)
	l.URL = srv.URL + "/callback"
	return l
}

// browser follows redirects like a user agent, but never off loopback.
var browser = &http.Client{CheckRedirect: func(req *http.Request, via []*http.Request) error {
	if ip := net.ParseIP(req.URL.Hostname()); ip == nil || !ip.IsLoopback() {
		return errors.New("test browser refuses non-loopback redirect to " + req.URL.Host)
	}
	if len(via) > 10 {
		return errors.New("too many redirects")
	}
	return nil
}}

// authorize visits the authorization URL and returns the query the
// loopback listener received, or nil with the final HTTP status when the
// flow did not come back to it.
func authorize(t *testing.T, authURL string, l *loopbackRedirect) (url.Values, int) {
	t.Helper()
	resp, err := browser.Get(authURL)
	if err != nil {
		t.Fatalf("authorize: %v", err)
	}
	resp.Body.Close()
	select {
	case q := <-l.got:
		return q, resp.StatusCode
	default:
		return nil, resp.StatusCode
	}
}

// codeFlow runs authorization code + PKCE for conf and returns the tokens.
func codeFlow(t *testing.T, conf *oauth2.Config, l *loopbackRedirect, opts ...oauth2.AuthCodeOption) *oauth2.Token {
	t.Helper()
	verifier := oauth2.GenerateVerifier()
	q, status := authorize(t, conf.AuthCodeURL("state-1", append(opts, oauth2.S256ChallengeOption(verifier))...), l)
	if q == nil {
		t.Fatalf("authorize: no redirect to the loopback listener (status %d)", status)
	}
	if q.Get("state") != "state-1" || q.Get("code") == "" {
		t.Fatalf("authorize redirect = %v, want code and state-1", q)
	}
	tok, err := conf.Exchange(testCtx(t), q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	return tok
}

// verifiers checks ID tokens for the CLI client and access tokens for the
// API audience, with keys from discovery.
type verifiers struct {
	provider *oidc.Provider
	id       *oidc.IDTokenVerifier
	access   *oidc.IDTokenVerifier
}

func newVerifiers(t *testing.T, iss *Issuer) verifiers {
	t.Helper()
	p, err := oidc.NewProvider(testCtx(t), iss.URL)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	return verifiers{
		provider: p,
		id:       p.Verifier(&oidc.Config{ClientID: iss.ClientID}),
		access:   p.Verifier(&oidc.Config{ClientID: iss.Audience}),
	}
}

// tokenClaims are the claims the tests look at.
type tokenClaims struct {
	Subject  string   `json:"sub"`
	Email    string   `json:"email"`
	Groups   []string `json:"groups"`
	Nonce    string   `json:"nonce"`
	IssuedAt int64    `json:"iat"`
	Expiry   int64    `json:"exp"`
}

func mustVerify(t *testing.T, v *oidc.IDTokenVerifier, raw string) (*oidc.IDToken, tokenClaims) {
	t.Helper()
	tok, err := v.Verify(testCtx(t), raw)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	var c tokenClaims
	if err := tok.Claims(&c); err != nil {
		t.Fatalf("claims: %v", err)
	}
	return tok, c
}

func checkUser(t *testing.T, what string, iss *Issuer, c tokenClaims, sub string) {
	t.Helper()
	u, ok := iss.User(sub)
	if !ok {
		t.Fatalf("no user %q", sub)
	}
	if c.Subject != sub || c.Email != u.Email || !slices.Equal(c.Groups, groupsOrEmpty(u.Groups)) {
		t.Errorf("%s claims = sub %q email %q groups %v, want %q %q %v", what, c.Subject, c.Email, c.Groups, sub, u.Email, u.Groups)
	}
}

// countingTransport counts requests to one path.
type countingTransport struct {
	path string
	n    atomic.Int32
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Path == c.path {
		c.n.Add(1)
	}
	return http.DefaultTransport.RoundTrip(r)
}

func withClient(ctx context.Context, rt http.RoundTripper) context.Context {
	return oidc.ClientContext(ctx, &http.Client{Transport: rt})
}

func getJSON(t *testing.T, u string, v any) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatalf("get %s: %v", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("get %s: status %d", u, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("decode %s: %v", u, err)
	}
}

func mustB64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("base64 %q: %v", s, err)
	}
	return b
}

type mismatchError struct{ got, want string }

func (e *mismatchError) Error() string {
	return fmt.Sprintf("got user code %q, want %q", e.got, e.want)
}

func asRetrieveError(err error, target **oauth2.RetrieveError) bool { return errors.As(err, target) }
