package hostsession

import (
	"time"

	"github.com/interlock-dev/interlock/daemon/identity"
)

// Tokens are what `interlock login` obtained from the identity provider.
type Tokens struct {
	// IDToken is the OIDC ID token (a JWT).
	IDToken string `json:"id_token,omitempty"`
	// AccessToken is the OAuth 2.0 access token; when it is a JWT for the
	// daemon's audience it is the token verified.
	AccessToken string `json:"access_token,omitempty"`
	// RefreshToken, when present, lets the daemon renew the session. It is
	// a secret: it is only kept in memory and in the root-only session file.
	RefreshToken string `json:"refresh_token,omitempty"`
	// Expiry is the access token's expiry as the provider reported it. It
	// is informative: the session ends at the verified token's exp.
	Expiry time.Time `json:"expiry,omitzero"`
}

// Session is the host session of one uid. A *Session is immutable: a
// refresh or a new login publishes a new one, so callers may keep it.
type Session struct {
	// UID is the local user the session belongs to.
	UID uint32
	// Identity is the verified person; Identity.Expiry is the session's end
	// unless it is refreshed.
	Identity *identity.Identity
	// LoginAt is when the person logged in.
	LoginAt time.Time
	// RefreshedAt is when the session was last renewed; zero if never.
	RefreshedAt time.Time
	// AutoRefresh reports whether the daemon holds a refresh token and will
	// renew the session before it expires.
	AutoRefresh bool
}

// Expiry is when the session ends unless it is refreshed.
func (s *Session) Expiry() time.Time { return s.Identity.Expiry }

// Reasons a session ends, passed to subscribers.
const (
	// ReasonLogout: the user ran `interlock logout`.
	ReasonLogout = "logout"
	// ReasonExpired: the token expired and there was no refresh token.
	ReasonExpired = "expired"
	// ReasonRefreshFailed: the token expired after its refresh failed.
	ReasonRefreshFailed = "refresh_failed"
	// ReasonReplaced: the uid logged in again as another person.
	ReasonReplaced = "replaced"
	// ReasonRevoked: a refreshed token named another person or failed
	// verification, so the session was ended at once.
	ReasonRevoked = "revoked"
)
