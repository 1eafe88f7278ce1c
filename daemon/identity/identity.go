package identity

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// Identity is an authenticated person or workload.
type Identity struct {
	Issuer  string
	Subject string
	Email   string
	Groups  []string
	Expiry  time.Time
}

// Cause classifies why a token was rejected.
type Cause string

// Causes of rejection; they appear in client errors and metric labels.
const (
	CauseMalformed     Cause = "malformed"
	CauseUnsigned      Cause = "unsigned"
	CauseAlgorithm     Cause = "algorithm"
	CauseUnknownIssuer Cause = "unknown_issuer"
	CauseBadSignature  Cause = "bad_signature"
	CauseExpired       Cause = "expired"
	CauseWrongAudience Cause = "wrong_audience"
	CauseNotYetValid   Cause = "not_yet_valid"
	CauseUnavailable   Cause = "issuer_unavailable"
	CauseClaims        Cause = "claims"
)

// TokenError is returned for every rejected token.
type TokenError struct {
	Cause Cause
	Err   error
}

func (e *TokenError) Error() string {
	switch e.Cause {
	case CauseMalformed:
		return "malformed token: " + e.Err.Error()
	case CauseUnsigned:
		return "unsigned token (alg none) rejected"
	case CauseAlgorithm:
		return "token " + e.Err.Error()
	case CauseUnknownIssuer:
		return "token from unknown issuer: " + e.Err.Error()
	case CauseBadSignature:
		return "bad token signature: " + e.Err.Error()
	case CauseExpired:
		return "token expired: " + e.Err.Error()
	case CauseWrongAudience:
		return "token has the wrong audience: " + e.Err.Error()
	case CauseNotYetValid:
		return "token not yet valid: " + e.Err.Error()
	case CauseUnavailable:
		return "identity provider unavailable: " + e.Err.Error()
	}
	return "invalid token: " + e.Err.Error()
}

func (e *TokenError) Unwrap() error { return e.Err }

// Config configures a Verifier.
type Config struct {
	// Issuer is the OIDC issuer URL.
	Issuer string
	// Audience must be among the token's "aud".
	Audience string
	// GroupsClaim names the groups claim; dots descend into objects.
	GroupsClaim string
	// Algorithms are the accepted signing algorithms (asymmetric only).
	Algorithms []string
	// HTTPClient fetches discovery and keys; nil uses a client with a 10s timeout.
	HTTPClient *http.Client
	// Now is the clock; nil uses time.Now.
	Now func() time.Time
	// Logger receives discovery problems.
	Logger *slog.Logger
}

// Verifier verifies tokens. Discovery is fetched lazily and retried until it
// succeeds; keys are cached and refetched when a token names an unknown key,
// which handles rotation.
type Verifier struct {
	cfg Config

	mu       sync.Mutex
	verifier *oidc.IDTokenVerifier
	lastTry  time.Time
	lastErr  error
}

// New returns a Verifier. It tries discovery once; if the issuer is not
// reachable yet, tokens are rejected (fail closed) until it is.
func New(ctx context.Context, cfg Config) (*Verifier, error) {
	if cfg.Issuer == "" || cfg.Audience == "" {
		return nil, errors.New("identity: issuer and audience are required")
	}
	if cfg.GroupsClaim == "" {
		cfg.GroupsClaim = "groups"
	}
	if len(cfg.Algorithms) == 0 {
		cfg.Algorithms = []string{oidc.RS256, oidc.ES256}
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	v := &Verifier{cfg: cfg}
	if _, err := v.get(ctx); err != nil {
		cfg.Logger.Warn("oidc discovery failed; tokens are rejected until it succeeds", "issuer", cfg.Issuer, "err", err)
	}
	return v, nil
}

// retryEvery limits discovery attempts while the issuer is unreachable.
const retryEvery = 2 * time.Second

func (v *Verifier) get(ctx context.Context) (*oidc.IDTokenVerifier, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.verifier != nil {
		return v.verifier, nil
	}
	if !v.lastTry.IsZero() && time.Since(v.lastTry) < retryEvery {
		return nil, v.lastErr
	}
	v.lastTry = time.Now()
	// The key set outlives this call, so it gets a context that is not
	// cancelled with the request.
	pctx := oidc.ClientContext(context.WithoutCancel(ctx), v.cfg.HTTPClient)
	p, err := oidc.NewProvider(pctx, v.cfg.Issuer)
	if err != nil {
		v.lastErr = fmt.Errorf("oidc discovery: %w", err)
		return nil, v.lastErr
	}
	v.verifier = p.Verifier(&oidc.Config{
		ClientID:             v.cfg.Audience,
		SupportedSigningAlgs: v.cfg.Algorithms,
		Now:                  v.cfg.Now,
	})
	return v.verifier, nil
}

// Verify checks a raw token and returns the identity in it.
func (v *Verifier) Verify(ctx context.Context, raw string) (*Identity, error) {
	raw = strings.TrimSpace(raw)
	hdr, claims, err := peek(raw)
	if err != nil {
		return nil, &TokenError{Cause: CauseMalformed, Err: err}
	}
	switch {
	case strings.EqualFold(hdr.Alg, "none"):
		return nil, &TokenError{Cause: CauseUnsigned, Err: errors.New("alg none")}
	case !slices.Contains(v.cfg.Algorithms, hdr.Alg):
		return nil, &TokenError{Cause: CauseAlgorithm, Err: fmt.Errorf("signing algorithm %q is not accepted", hdr.Alg)}
	case claims.Issuer != v.cfg.Issuer:
		return nil, &TokenError{Cause: CauseUnknownIssuer, Err: fmt.Errorf("issuer %q is not %q", claims.Issuer, v.cfg.Issuer)}
	}
	ver, err := v.get(ctx)
	if err != nil {
		return nil, &TokenError{Cause: CauseUnavailable, Err: err}
	}
	tok, err := ver.Verify(oidc.ClientContext(ctx, v.cfg.HTTPClient), raw)
	if err != nil {
		return nil, classify(err)
	}
	var all map[string]any
	if err := tok.Claims(&all); err != nil {
		return nil, &TokenError{Cause: CauseClaims, Err: err}
	}
	groups, err := groupsAt(all, v.cfg.GroupsClaim)
	if err != nil {
		return nil, &TokenError{Cause: CauseClaims, Err: err}
	}
	email, _ := all["email"].(string)
	if tok.Subject == "" {
		return nil, &TokenError{Cause: CauseClaims, Err: errors.New("no sub claim")}
	}
	return &Identity{Issuer: tok.Issuer, Subject: tok.Subject, Email: email, Groups: groups, Expiry: tok.Expiry}, nil
}

func classify(err error) error {
	var exp *oidc.TokenExpiredError
	msg := err.Error()
	switch {
	case errors.As(err, &exp):
		return &TokenError{Cause: CauseExpired, Err: fmt.Errorf("expired at %s", exp.Expiry.UTC().Format(time.RFC3339))}
	case strings.Contains(msg, "expected audience"):
		return &TokenError{Cause: CauseWrongAudience, Err: err}
	case strings.Contains(msg, "different provider"):
		return &TokenError{Cause: CauseUnknownIssuer, Err: err}
	case strings.Contains(msg, "nbf"):
		return &TokenError{Cause: CauseNotYetValid, Err: err}
	case strings.Contains(msg, "malformed"):
		return &TokenError{Cause: CauseMalformed, Err: err}
	case strings.Contains(msg, "fetching keys"), strings.Contains(msg, "get keys failed"):
		return &TokenError{Cause: CauseUnavailable, Err: err}
	}
	return &TokenError{Cause: CauseBadSignature, Err: err}
}

type jwtHeader struct {
	Alg string `json:"alg"`
}

type jwtClaims struct {
	Issuer string `json:"iss"`
}

// peek decodes a compact JWT's header and issuer without verifying it, to
// give precise errors. Nothing is trusted from it.
func peek(raw string) (jwtHeader, jwtClaims, error) {
	var h jwtHeader
	var c jwtClaims
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return h, c, fmt.Errorf("a JWT has 3 dot-separated parts, got %d", len(parts))
	}
	hb, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return h, c, fmt.Errorf("header: %w", err)
	}
	if err := json.Unmarshal(hb, &h); err != nil {
		return h, c, fmt.Errorf("header: %w", err)
	}
	pb, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return h, c, fmt.Errorf("payload: %w", err)
	}
	if err := json.Unmarshal(pb, &c); err != nil {
		return h, c, fmt.Errorf("payload: %w", err)
	}
	return h, c, nil
}

// groupsAt reads a list of strings (or one string) at a dotted claim path.
// A missing claim means no groups.
func groupsAt(claims map[string]any, path string) ([]string, error) {
	var cur any = claims
	for _, p := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, nil
		}
		cur, ok = m[p]
		if !ok {
			return nil, nil
		}
	}
	switch g := cur.(type) {
	case nil:
		return nil, nil
	case string:
		return []string{g}, nil
	case []any:
		out := make([]string, 0, len(g))
		for _, x := range g {
			s, ok := x.(string)
			if !ok {
				return nil, fmt.Errorf("claim %s: element %v is not a string", path, x)
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, fmt.Errorf("claim %s is a %T, not a list of strings", path, cur)
}
