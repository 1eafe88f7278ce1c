package testenv

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"golang.org/x/oauth2"
)

// Endpoint is the issuer's OAuth 2.0 endpoints for golang.org/x/oauth2.
func (i *Issuer) Endpoint() oauth2.Endpoint {
	return oauth2.Endpoint{
		AuthURL:       i.provider.AuthorizationEndpoint().Absolute(i.URL),
		TokenURL:      i.provider.TokenEndpoint().Absolute(i.URL),
		DeviceAuthURL: i.provider.DeviceAuthorizationEndpoint().Absolute(i.URL),
		AuthStyle:     oauth2.AuthStyleInParams,
	}
}

// JWKSURL is the URL of the issuer's key set.
func (i *Issuer) JWKSURL() string { return i.provider.KeysEndpoint().Absolute(i.URL) }

// DiscoveryURL is the URL of the issuer's OpenID configuration.
func (i *Issuer) DiscoveryURL() string { return i.URL + oidc.DiscoveryEndpoint }

// OAuth2Config configures the public CLI client. Scopes default to openid,
// email, profile and offline_access (which yields refresh tokens).
func (i *Issuer) OAuth2Config(redirectURL string, scopes ...string) *oauth2.Config {
	if len(scopes) == 0 {
		scopes = []string{oidc.ScopeOpenID, oidc.ScopeEmail, oidc.ScopeProfile, oidc.ScopeOfflineAccess}
	}
	return &oauth2.Config{ClientID: i.ClientID, Endpoint: i.Endpoint(), RedirectURL: redirectURL, Scopes: scopes}
}

// AddUser adds u, replacing a user with the same subject.
func (i *Issuer) AddUser(u User) {
	i.store.mu.Lock()
	defer i.store.mu.Unlock()
	u.Groups = slices.Clone(u.Groups)
	i.store.users[u.Subject] = u
}

// User returns the user with subject sub.
func (i *Issuer) User(sub string) (User, bool) {
	i.store.mu.Lock()
	defer i.store.mu.Unlock()
	u, ok := i.store.users[sub]
	u.Groups = slices.Clone(u.Groups)
	return u, ok
}

// AddClient registers c; see IssuerClient for defaults. An existing client
// with the same ID is replaced.
func (i *Issuer) AddClient(c IssuerClient) error {
	if c.ID == "" {
		return errors.New("add client: empty id")
	}
	if c.GrantTypes == nil {
		c.GrantTypes = []string{GrantAuthorizationCode, GrantRefreshToken, GrantDeviceCode}
		if c.Secret != "" {
			c.GrantTypes = append(c.GrantTypes, GrantClientCredentials)
		}
	}
	if c.Audience == nil {
		c.Audience = []string{i.opts.Audience}
	}
	c.RedirectURIs = slices.Clone(c.RedirectURIs)
	c.Groups = slices.Clone(c.Groups)
	i.store.mu.Lock()
	defer i.store.mu.Unlock()
	i.store.clients[c.ID] = &client{IssuerClient: c, idTokenTTL: i.opts.IDTokenTTL}
	return nil
}

// SetLoginUser makes later logins (and device approvals through the
// verification page) sign in as sub, unless a request's login_hint names
// another user. An empty sub returns to IssuerOptions.DefaultUser.
func (i *Issuer) SetLoginUser(sub string) error {
	i.store.mu.Lock()
	defer i.store.mu.Unlock()
	if _, ok := i.store.users[sub]; sub != "" && !ok {
		return fmt.Errorf("set login user: %q: %w", sub, errNotFound)
	}
	i.store.loginUser = sub
	return nil
}

// LoginUser is the subject logins currently sign in as without login_hint.
func (i *Issuer) LoginUser() string {
	i.store.mu.Lock()
	defer i.store.mu.Unlock()
	if i.store.loginUser != "" {
		return i.store.loginUser
	}
	return i.store.defaultUser
}

// DenyLogins makes later logins fail with access_denied (redirected to the
// client), until called with false.
func (i *Issuer) DenyLogins(deny bool) {
	i.store.mu.Lock()
	defer i.store.mu.Unlock()
	i.store.denyLogins = deny
}

// ApproveDevice approves the pending device authorization with userCode
// as the user sub; the polling client then gets its tokens.
func (i *Issuer) ApproveDevice(userCode, sub string) error {
	if sub == "" {
		return errors.New("approve device: empty subject")
	}
	if err := i.store.decideDevice(userCode, sub); err != nil {
		return fmt.Errorf("approve device: %w", err)
	}
	return nil
}

// DenyDevice denies the pending device authorization with userCode; the
// polling client gets access_denied.
func (i *Issuer) DenyDevice(userCode string) error {
	if err := i.store.decideDevice(userCode, ""); err != nil {
		return fmt.Errorf("deny device: %w", err)
	}
	return nil
}

// WaitDeviceCode returns the user code of the oldest undecided device
// authorization, waiting for one to be requested. It lets a test approve
// a device login started by another process (e.g. `interlock login`).
func (i *Issuer) WaitDeviceCode(ctx context.Context) (string, error) {
	for {
		code, changed := i.store.pendingDeviceCode()
		if code != "" {
			return code, nil
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("wait for device code: %w", ctx.Err())
		case <-changed:
		}
	}
}

// RotateKey makes a fresh signing key current and returns its key ID. The
// previous key stays in the JWKS for IssuerOptions.KeyGrace, or is dropped
// at once with DropRetiredKeys.
func (i *Issuer) RotateKey() (string, error) {
	key, err := newSigningKey(jose.SignatureAlgorithm(i.opts.Algorithm))
	if err != nil {
		return "", fmt.Errorf("rotate key: %w", err)
	}
	i.store.mu.Lock()
	defer i.store.mu.Unlock()
	i.store.keys.rotate(key, time.Now())
	i.log.Debug("signing key rotated", "kid", key.id)
	return key.id, nil
}

// KeyID is the ID (kid) of the current signing key.
func (i *Issuer) KeyID() string {
	i.store.mu.Lock()
	defer i.store.mu.Unlock()
	return i.store.keys.current.id
}
