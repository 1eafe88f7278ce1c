package testenv

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// storage is the issuer's in-memory op.Storage. One mutex guards all of it.
type storage struct {
	mu sync.Mutex

	groupsClaim string
	accessTTL   time.Duration
	refreshTTL  time.Duration

	users         map[string]User // by subject
	defaultUser   string
	loginUser     string
	denyLogins    bool
	clients       map[string]*client
	authRequests  map[string]*authRequest
	codes         map[string]string // code -> auth request id
	accessTokens  map[string]accessToken
	refreshTokens map[string]*refreshToken
	devices       map[string]*deviceAuth // by device code
	userCodes     map[string]string      // user code -> device code
	deviceSignal  chan struct{}          // closed and replaced on every new device authorization
	keys          keyring
}

// accessToken is what the issuer remembers of a JWT access token, for the
// userinfo, introspection and revocation endpoints.
type accessToken struct {
	clientID string
	subject  string
	audience []string
	scopes   []string
	expires  time.Time
}

var (
	_ op.Storage                        = (*storage)(nil)
	_ op.DeviceAuthorizationStorage     = (*storage)(nil)
	_ op.ClientCredentialsStorage       = (*storage)(nil)
	_ op.CanSetUserinfoFromRequest      = (*storage)(nil)
	_ op.CanGetPrivateClaimsFromRequest = (*storage)(nil)
)

var errNotFound = errors.New("not found")

// CreateAuthRequest stores a validated authorization request. Public
// clients must send a PKCE S256 challenge.
func (s *storage) CreateAuthRequest(_ context.Context, req *oidc.AuthRequest, _ string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(req.Prompt) == 1 && req.Prompt[0] == oidc.PromptNone {
		return nil, oidc.ErrLoginRequired()
	}
	c, ok := s.clients[req.ClientID]
	if !ok {
		return nil, oidc.ErrInvalidClient().WithDescription("unknown client")
	}
	var challenge *oidc.CodeChallenge
	if req.CodeChallenge != "" {
		challenge = &oidc.CodeChallenge{Challenge: req.CodeChallenge, Method: req.CodeChallengeMethod}
	}
	if c.public() && (challenge == nil || challenge.Method != oidc.CodeChallengeMethodS256) {
		return nil, oidc.ErrInvalidRequest().WithDescription("public clients must use PKCE with code_challenge_method=S256")
	}
	a := &authRequest{
		id:            randomHex(16),
		clientID:      c.ID,
		audience:      c.audience(),
		redirectURI:   req.RedirectURI,
		state:         req.State,
		nonce:         req.Nonce,
		loginHint:     req.LoginHint,
		scopes:        req.Scopes,
		responseType:  req.ResponseType,
		responseMode:  req.ResponseMode,
		codeChallenge: challenge,
		created:       time.Now(),
	}
	s.authRequests[a.id] = a
	return a, nil
}

func (s *storage) AuthRequestByID(_ context.Context, id string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.authRequests[id]
	if !ok {
		return nil, fmt.Errorf("auth request %s: %w", id, errNotFound)
	}
	return a, nil
}

func (s *storage) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	s.mu.Lock()
	id, ok := s.codes[code]
	s.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("code: %w", errNotFound)
	}
	return s.AuthRequestByID(ctx, id)
}

func (s *storage) SaveAuthCode(_ context.Context, id, code string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.codes[code] = id
	return nil
}

// DeleteAuthRequest runs once tokens were issued, so a code works once.
func (s *storage) DeleteAuthRequest(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.authRequests, id)
	for code, rid := range s.codes {
		if rid == id {
			delete(s.codes, code)
		}
	}
	return nil
}

func (s *storage) CreateAccessToken(_ context.Context, req op.TokenRequest) (string, time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, exp := s.newAccessToken(clientIDOf(req), req)
	return id, exp, nil
}

// CreateAccessAndRefreshTokens issues an access token and a refresh token.
// With currentRefreshToken set it rotates: the old refresh token stops
// working.
func (s *storage) CreateAccessAndRefreshTokens(_ context.Context, req op.TokenRequest, currentRefreshToken string) (string, string, time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	next := &refreshToken{
		token:    randomHex(32),
		clientID: clientIDOf(req),
		subject:  req.GetSubject(),
		audience: slices.Clone(req.GetAudience()),
		scopes:   slices.Clone(req.GetScopes()),
		expires:  now.Add(s.refreshTTL),
	}
	if r, ok := req.(op.IDTokenRequest); ok {
		next.amr, next.authTime = r.GetAMR(), r.GetAuthTime()
	}
	if currentRefreshToken != "" {
		cur, ok := s.refreshTokens[currentRefreshToken]
		if !ok || now.After(cur.expires) {
			delete(s.refreshTokens, currentRefreshToken)
			return "", "", time.Time{}, oidc.ErrInvalidGrant().WithDescription("refresh token invalid or expired")
		}
		delete(s.refreshTokens, currentRefreshToken)
		next.clientID, next.amr, next.authTime = cur.clientID, cur.amr, cur.authTime
	}
	s.refreshTokens[next.token] = next
	id, exp := s.newAccessToken(next.clientID, req)
	return id, next.token, exp, nil
}

// newAccessToken records an access token; s.mu is held.
func (s *storage) newAccessToken(clientID string, req op.TokenRequest) (string, time.Time) {
	now := time.Now()
	for id, t := range s.accessTokens {
		if now.After(t.expires) {
			delete(s.accessTokens, id)
		}
	}
	id := randomHex(16)
	exp := now.Add(s.accessTTL)
	s.accessTokens[id] = accessToken{
		clientID: clientID,
		subject:  req.GetSubject(),
		audience: slices.Clone(req.GetAudience()),
		scopes:   slices.Clone(req.GetScopes()),
		expires:  exp,
	}
	return id, exp
}

// clientIDOf finds the client a token request belongs to.
func clientIDOf(req op.TokenRequest) string {
	switch r := req.(type) {
	case interface{ GetClientID() string }:
		return r.GetClientID()
	case *oidc.JWTTokenRequest:
		return r.Subject // client credentials: the client is the subject
	}
	return ""
}

// TokenRequestByRefreshToken returns a copy, so op may narrow its scopes.
func (s *storage) TokenRequestByRefreshToken(_ context.Context, token string) (op.RefreshTokenRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.refreshTokens[token]
	if !ok {
		return nil, fmt.Errorf("refresh token: %w", errNotFound)
	}
	if time.Now().After(r.expires) {
		delete(s.refreshTokens, token)
		return nil, errors.New("refresh token expired")
	}
	c := *r
	return &c, nil
}

func (s *storage) TerminateSession(_ context.Context, userID, clientID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for tok, r := range s.refreshTokens {
		if r.subject == userID && r.clientID == clientID {
			delete(s.refreshTokens, tok)
		}
	}
	return nil
}

func (s *storage) RevokeToken(_ context.Context, tokenOrID, _, clientID string) *oidc.Error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.accessTokens[tokenOrID]; ok {
		if t.clientID != clientID {
			return oidc.ErrInvalidClient().WithDescription("token was not issued to this client")
		}
		delete(s.accessTokens, tokenOrID)
		return nil
	}
	if r, ok := s.refreshTokens[tokenOrID]; ok {
		if r.clientID != clientID {
			return oidc.ErrInvalidClient().WithDescription("token was not issued to this client")
		}
		delete(s.refreshTokens, tokenOrID)
	}
	return nil
}

func (s *storage) GetRefreshTokenInfo(_ context.Context, _, token string) (string, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.refreshTokens[token]
	if !ok {
		return "", "", op.ErrInvalidRefreshToken
	}
	return r.subject, r.token, nil
}

func (s *storage) SigningKey(context.Context) (op.SigningKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.keys.current, nil
}

func (s *storage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return []jose.SignatureAlgorithm{s.keys.current.alg}, nil
}

func (s *storage) KeySet(context.Context) ([]op.Key, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.keys.published(time.Now()), nil
}

func (s *storage) GetClientByClientID(_ context.Context, id string) (op.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clients[id]
	if !ok {
		return nil, fmt.Errorf("client %q: %w", id, errNotFound)
	}
	return c, nil
}

func (s *storage) AuthorizeClientIDSecret(_ context.Context, id, secret string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clients[id]
	if !ok || c.public() || subtle.ConstantTimeCompare([]byte(c.Secret), []byte(secret)) != 1 {
		return errors.New("invalid client id or secret")
	}
	return nil
}

// SetUserinfoFromScopes is deprecated in op; SetUserinfoFromRequest does the work.
func (s *storage) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return nil
}

// SetUserinfoFromRequest fills the ID token's user claims.
func (s *storage) SetUserinfoFromRequest(_ context.Context, info *oidc.UserInfo, req op.IDTokenRequest, _ []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fillUserinfo(info, req.GetSubject())
}

func (s *storage) SetUserinfoFromToken(_ context.Context, info *oidc.UserInfo, tokenID, subject, _ string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.accessTokens[tokenID]
	if !ok || time.Now().After(t.expires) {
		return errors.New("access token invalid or expired")
	}
	return s.fillUserinfo(info, t.subject)
}

func (s *storage) SetIntrospectionFromToken(_ context.Context, resp *oidc.IntrospectionResponse, tokenID, subject, clientID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.accessTokens[tokenID]
	if !ok || time.Now().After(t.expires) {
		return errors.New("access token invalid or expired")
	}
	if !slices.Contains(t.audience, clientID) {
		return errors.New("token audience does not include the introspecting client")
	}
	info := new(oidc.UserInfo)
	if err := s.fillUserinfo(info, t.subject); err != nil {
		return err
	}
	resp.SetUserInfo(info)
	resp.Scope = t.scopes
	resp.ClientID = t.clientID
	resp.Audience = t.audience
	resp.Expiration = oidc.FromTime(t.expires)
	return nil
}

// fillUserinfo sets sub, email, name and groups; s.mu is held. A subject
// that is a client (client credentials) gets the client's groups.
func (s *storage) fillUserinfo(info *oidc.UserInfo, subject string) error {
	info.Subject = subject
	if u, ok := s.users[subject]; ok {
		info.Email = u.Email
		info.EmailVerified = oidc.Bool(true)
		info.Name = u.Name
		info.AppendClaims(s.groupsClaim, groupsOrEmpty(u.Groups))
		return nil
	}
	if c, ok := s.clients[subject]; ok {
		info.AppendClaims(s.groupsClaim, groupsOrEmpty(c.Groups))
		return nil
	}
	return fmt.Errorf("user %q: %w", subject, errNotFound)
}

func groupsOrEmpty(g []string) []string {
	if g == nil {
		return []string{}
	}
	return slices.Clone(g)
}

// GetPrivateClaimsFromRequest fills the JWT access token's extra claims.
func (s *storage) GetPrivateClaimsFromRequest(_ context.Context, req op.TokenRequest, _ []string) (map[string]any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.privateClaims(req.GetSubject())
}

func (s *storage) GetPrivateClaimsFromScopes(_ context.Context, userID, _ string, _ []string) (map[string]any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.privateClaims(userID)
}

// privateClaims are email, name and groups of a user or client; s.mu is held.
func (s *storage) privateClaims(subject string) (map[string]any, error) {
	if u, ok := s.users[subject]; ok {
		claims := map[string]any{"email": u.Email, "email_verified": true, s.groupsClaim: groupsOrEmpty(u.Groups)}
		if u.Name != "" {
			claims["name"] = u.Name
		}
		return claims, nil
	}
	if c, ok := s.clients[subject]; ok {
		return map[string]any{s.groupsClaim: groupsOrEmpty(c.Groups)}, nil
	}
	return nil, fmt.Errorf("user %q: %w", subject, errNotFound)
}

func (s *storage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errors.New("jwt profile grant is not supported")
}

func (s *storage) ValidateJWTProfileScopes(_ context.Context, _ string, scopes []string) ([]string, error) {
	return slices.DeleteFunc(slices.Clone(scopes), func(sc string) bool { return sc != oidc.ScopeOpenID }), nil
}

func (s *storage) Health(context.Context) error { return nil }

// ClientCredentials authenticates a confidential client allowed the client
// credentials grant.
func (s *storage) ClientCredentials(_ context.Context, id, secret string) (op.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clients[id]
	if !ok || c.public() || subtle.ConstantTimeCompare([]byte(c.Secret), []byte(secret)) != 1 ||
		!slices.Contains(c.IssuerClient.GrantTypes, GrantClientCredentials) {
		return nil, errors.New("invalid client id or secret")
	}
	return c, nil
}

func (s *storage) ClientCredentialsTokenRequest(_ context.Context, id string, scopes []string) (op.TokenRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clients[id]
	if !ok {
		return nil, fmt.Errorf("client %q: %w", id, errNotFound)
	}
	return &oidc.JWTTokenRequest{Subject: id, Audience: c.audience(), Scopes: scopes}, nil
}
