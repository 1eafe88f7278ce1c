package testenv

import (
	"slices"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// User is a test identity of the issuer.
type User struct {
	// Subject is the sub claim and the key used by SetLoginUser,
	// ApproveDevice and login_hint.
	Subject string
	// Email is the email claim (email_verified is always true); login_hint
	// may name it too.
	Email string
	// Name is the name claim; empty omits it.
	Name string
	// Groups is the groups claim (named by IssuerOptions.GroupsClaim).
	Groups []string
}

// DefaultUsers are the issuer's users when IssuerOptions.Users is nil:
// alice (dba, engineering), bob (engineering), carol (analysts) and
// mallory (no groups).
func DefaultUsers() []User {
	return []User{
		{Subject: "alice", Email: "alice@example.com", Name: "Alice Admin", Groups: []string{"dba", "engineering"}},
		{Subject: "bob", Email: "bob@example.com", Name: "Bob Builder", Groups: []string{"engineering"}},
		{Subject: "carol", Email: "carol@example.com", Name: "Carol Analyst", Groups: []string{"analysts"}},
		{Subject: "mallory", Email: "mallory@example.com", Name: "Mallory", Groups: nil},
	}
}

// Grant types a client may use.
const (
	GrantAuthorizationCode = string(oidc.GrantTypeCode)
	GrantRefreshToken      = string(oidc.GrantTypeRefreshToken)
	GrantDeviceCode        = string(oidc.GrantTypeDeviceCode)
	GrantClientCredentials = string(oidc.GrantTypeClientCredentials)
)

// IssuerClient registers an OAuth client with the issuer.
type IssuerClient struct {
	// ID is the client_id.
	ID string
	// Secret makes the client confidential (client_secret_basic or
	// client_secret_post). Empty makes it public: no authentication, PKCE
	// with S256 required.
	Secret string
	// RedirectURIs are allowed exactly. Public clients also accept any
	// http://127.0.0.1:<port>/..., http://[::1]:<port>/... or
	// http://localhost:<port>/... redirect (RFC 8252 loopback).
	RedirectURIs []string
	// GrantTypes the client may use. Default: authorization code, refresh
	// token and device code; confidential clients also get client
	// credentials.
	GrantTypes []string
	// Audience is added to the aud of every token issued to the client,
	// next to the client's ID. Default: [IssuerOptions.Audience].
	Audience []string
	// Groups are the groups claim of client-credentials tokens, whose
	// subject is the client ID.
	Groups []string
}

// client implements op.Client.
type client struct {
	IssuerClient
	idTokenTTL time.Duration
}

var (
	_ op.Client           = (*client)(nil)
	_ op.HasRedirectGlobs = (*client)(nil)
)

func (c *client) GetID() string                    { return c.ID }
func (c *client) RedirectURIs() []string           { return c.IssuerClient.RedirectURIs }
func (c *client) PostLogoutRedirectURIs() []string { return nil }
func (c *client) public() bool                     { return c.Secret == "" }

func (c *client) ApplicationType() op.ApplicationType {
	if c.public() {
		return op.ApplicationTypeNative
	}
	return op.ApplicationTypeWeb
}

func (c *client) AuthMethod() oidc.AuthMethod {
	if c.public() {
		return oidc.AuthMethodNone
	}
	return oidc.AuthMethodBasic
}

func (c *client) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}

func (c *client) GrantTypes() []oidc.GrantType {
	out := make([]oidc.GrantType, len(c.IssuerClient.GrantTypes))
	for i, g := range c.IssuerClient.GrantTypes {
		out[i] = oidc.GrantType(g)
	}
	return out
}

func (c *client) LoginURL(authRequestID string) string {
	return loginPath + "?" + loginQueryID + "=" + authRequestID
}

func (c *client) AccessTokenType() op.AccessTokenType { return op.AccessTokenTypeJWT }
func (c *client) IDTokenLifetime() time.Duration      { return c.idTokenTTL }
func (c *client) DevMode() bool                       { return false }
func (c *client) ClockSkew() time.Duration            { return 0 }
func (c *client) IsScopeAllowed(string) bool          { return false }

// IDTokenUserinfoClaimsAssertion puts email and name into the ID token even
// when an access token is issued too.
func (c *client) IDTokenUserinfoClaimsAssertion() bool { return true }

func (c *client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

func (c *client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

// RedirectURIGlobs accept any loopback port and path for public clients.
func (c *client) RedirectURIGlobs() []string {
	if !c.public() {
		return nil
	}
	return []string{
		"http://127.0.0.1:*", "http://127.0.0.1:*/**",
		"http://[[]::1]:*", "http://[[]::1]:*/**",
		"http://localhost:*", "http://localhost:*/**",
	}
}

func (c *client) PostLogoutRedirectURIGlobs() []string { return nil }

// audience is the aud of tokens issued to c.
func (c *client) audience() []string {
	aud := []string{c.ID}
	for _, a := range c.Audience {
		if !slices.Contains(aud, a) {
			aud = append(aud, a)
		}
	}
	return aud
}

// authRequest implements op.AuthRequest.
type authRequest struct {
	id            string
	clientID      string
	audience      []string
	redirectURI   string
	state         string
	nonce         string
	loginHint     string
	scopes        []string
	responseType  oidc.ResponseType
	responseMode  oidc.ResponseMode
	codeChallenge *oidc.CodeChallenge
	created       time.Time

	subject  string
	authTime time.Time
	done     bool
}

var _ op.AuthRequest = (*authRequest)(nil)

func (a *authRequest) GetID() string                         { return a.id }
func (a *authRequest) GetACR() string                        { return "" }
func (a *authRequest) GetAudience() []string                 { return a.audience }
func (a *authRequest) GetAuthTime() time.Time                { return a.authTime }
func (a *authRequest) GetClientID() string                   { return a.clientID }
func (a *authRequest) GetCodeChallenge() *oidc.CodeChallenge { return a.codeChallenge }
func (a *authRequest) GetNonce() string                      { return a.nonce }
func (a *authRequest) GetRedirectURI() string                { return a.redirectURI }
func (a *authRequest) GetResponseType() oidc.ResponseType    { return a.responseType }
func (a *authRequest) GetResponseMode() oidc.ResponseMode    { return a.responseMode }
func (a *authRequest) GetScopes() []string                   { return a.scopes }
func (a *authRequest) GetState() string                      { return a.state }
func (a *authRequest) GetSubject() string                    { return a.subject }
func (a *authRequest) Done() bool                            { return a.done }

func (a *authRequest) GetAMR() []string {
	if a.done {
		return []string{"pwd"}
	}
	return nil
}

// refreshToken is the stored state behind an opaque refresh token; a copy
// implements op.RefreshTokenRequest.
type refreshToken struct {
	token    string
	clientID string
	subject  string
	audience []string
	scopes   []string
	amr      []string
	authTime time.Time
	expires  time.Time
}

var _ op.RefreshTokenRequest = (*refreshToken)(nil)

func (r *refreshToken) GetAMR() []string            { return r.amr }
func (r *refreshToken) GetAudience() []string       { return r.audience }
func (r *refreshToken) GetAuthTime() time.Time      { return r.authTime }
func (r *refreshToken) GetClientID() string         { return r.clientID }
func (r *refreshToken) GetScopes() []string         { return r.scopes }
func (r *refreshToken) GetSubject() string          { return r.subject }
func (r *refreshToken) SetCurrentScopes(s []string) { r.scopes = s }

// deviceAuth is a pending or finished device authorization.
type deviceAuth struct {
	deviceCode string
	userCode   string
	created    time.Time
	state      op.DeviceAuthorizationState
}
