package testenv

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// Defaults of IssuerOptions.
const (
	DefaultCLIClientID    = "interlock-cli"
	DefaultAudience       = "interlock"
	DefaultAudienceSecret = "interlock-secret"
	DefaultGroupsClaim    = "groups"
)

// IssuerOptions configures the OIDC issuer. The zero value is usable.
type IssuerOptions struct {
	// Users of the issuer. Default DefaultUsers().
	Users []User
	// DefaultUser is the subject a login signs in as when neither
	// login_hint nor SetLoginUser chose one. Default: the first user.
	DefaultUser string
	// ClientID of the public native CLI client (no secret, PKCE S256,
	// loopback redirects, device and refresh grants). Default "interlock-cli".
	ClientID string
	// Audience is the API's client ID, put in the aud of every token.
	// Default "interlock". It is registered as a confidential client with
	// AudienceSecret (client credentials and introspection).
	Audience string
	// AudienceSecret is the Audience client's secret. Default "interlock-secret".
	AudienceSecret string
	// Clients are extra clients.
	Clients []IssuerClient
	// GroupsClaim names the groups claim. Default "groups".
	GroupsClaim string
	// AccessTokenTTL is the lifetime of access tokens. Default 5m.
	AccessTokenTTL time.Duration
	// IDTokenTTL is the lifetime of ID tokens. Default 5m.
	IDTokenTTL time.Duration
	// RefreshTokenTTL is the lifetime of each refresh token. Default 1h.
	RefreshTokenTTL time.Duration
	// DeviceCodeTTL is how long a device authorization may be approved. Default 5m.
	DeviceCodeTTL time.Duration
	// DevicePollInterval is the interval clients are told to poll at; RFC
	// 8628 counts whole seconds. Default 1s.
	DevicePollInterval time.Duration
	// Algorithm of the signing keys: "RS256" (default) or "ES256".
	Algorithm string
	// KeyGrace is how long RotateKey keeps the previous key in the JWKS.
	// Default 1h.
	KeyGrace time.Duration
	// DropRetiredKeys makes RotateKey remove the previous key from the
	// JWKS at once.
	DropRetiredKeys bool
	// Addr is the listen address. Default "127.0.0.1:0" (random port).
	Addr string
	// Logger receives lifecycle messages. Default slog.Default().
	Logger *slog.Logger
}

// Issuer is a running OIDC provider over loopback HTTP.
type Issuer struct {
	// URL is the issuer (iss), e.g. "http://127.0.0.1:41234".
	URL string
	// ClientID is the public CLI client's ID.
	ClientID string
	// Audience is the API client ID present in every token's aud.
	Audience string
	// AudienceSecret is the Audience client's secret.
	AudienceSecret string
	// GroupsClaim names the groups claim.
	GroupsClaim string

	opts      IssuerOptions
	store     *storage
	provider  *op.Provider
	srv       *http.Server
	log       *slog.Logger
	closeOnce sync.Once
	closeErr  error
}

func (o IssuerOptions) withDefaults() IssuerOptions {
	if o.Users == nil {
		o.Users = DefaultUsers()
	}
	if o.DefaultUser == "" && len(o.Users) > 0 {
		o.DefaultUser = o.Users[0].Subject
	}
	if o.ClientID == "" {
		o.ClientID = DefaultCLIClientID
	}
	if o.Audience == "" {
		o.Audience = DefaultAudience
	}
	if o.AudienceSecret == "" {
		o.AudienceSecret = DefaultAudienceSecret
	}
	if o.GroupsClaim == "" {
		o.GroupsClaim = DefaultGroupsClaim
	}
	if o.AccessTokenTTL == 0 {
		o.AccessTokenTTL = 5 * time.Minute
	}
	if o.IDTokenTTL == 0 {
		o.IDTokenTTL = 5 * time.Minute
	}
	if o.RefreshTokenTTL == 0 {
		o.RefreshTokenTTL = time.Hour
	}
	if o.DeviceCodeTTL == 0 {
		o.DeviceCodeTTL = 5 * time.Minute
	}
	if o.DevicePollInterval < time.Second {
		o.DevicePollInterval = time.Second
	}
	if o.Algorithm == "" {
		o.Algorithm = string(jose.RS256)
	}
	if o.KeyGrace == 0 {
		o.KeyGrace = time.Hour
	}
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// StartIssuer starts an issuer listening on opts.Addr.
func StartIssuer(ctx context.Context, opts IssuerOptions) (*Issuer, error) {
	opts = opts.withDefaults()
	key, err := newSigningKey(jose.SignatureAlgorithm(opts.Algorithm))
	if err != nil {
		return nil, err
	}
	store := &storage{
		groupsClaim:   opts.GroupsClaim,
		accessTTL:     opts.AccessTokenTTL,
		refreshTTL:    opts.RefreshTokenTTL,
		users:         map[string]User{},
		defaultUser:   opts.DefaultUser,
		clients:       map[string]*client{},
		authRequests:  map[string]*authRequest{},
		codes:         map[string]string{},
		accessTokens:  map[string]accessToken{},
		refreshTokens: map[string]*refreshToken{},
		devices:       map[string]*deviceAuth{},
		userCodes:     map[string]string{},
		deviceSignal:  make(chan struct{}),
		keys:          keyring{current: key, grace: opts.KeyGrace, drop: opts.DropRetiredKeys},
	}
	i := &Issuer{
		ClientID:       opts.ClientID,
		Audience:       opts.Audience,
		AudienceSecret: opts.AudienceSecret,
		GroupsClaim:    opts.GroupsClaim,
		opts:           opts,
		store:          store,
	}
	for _, u := range opts.Users {
		i.AddUser(u)
	}
	if _, ok := store.users[opts.DefaultUser]; opts.DefaultUser != "" && !ok {
		return nil, fmt.Errorf("start issuer: default user %q: %w", opts.DefaultUser, errNotFound)
	}
	clients := append([]IssuerClient{
		{ID: opts.ClientID},
		{ID: opts.Audience, Secret: opts.AudienceSecret, Audience: []string{}},
	}, opts.Clients...)
	for _, c := range clients {
		if err := i.AddClient(c); err != nil {
			return nil, err
		}
	}

	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("listen for issuer: %w", err)
	}
	i.URL = "http://" + ln.Addr().String()
	i.log = opts.Logger.With("component", "testenv.issuer", "issuer", i.URL)

	var cryptoKey [32]byte
	_, _ = rand.Read(cryptoKey[:])
	config := &op.Config{
		CryptoKey:             cryptoKey,
		CodeMethodS256:        true,
		AuthMethodPost:        true,
		GrantTypeRefreshToken: true,
		DeviceAuthorization: op.DeviceAuthorizationConfig{
			Lifetime:     opts.DeviceCodeTTL,
			PollInterval: opts.DevicePollInterval,
			UserFormPath: devicePath,
			UserCode:     op.UserCodeBase20,
		},
	}
	i.provider, err = op.NewProvider(config, store, op.StaticIssuer(i.URL), op.WithAllowInsecure())
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("new oidc provider: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc(loginPath, op.NewIssuerInterceptor(i.provider.IssuerFromRequest).HandlerFunc(i.loginHandler))
	mux.HandleFunc(devicePath, i.deviceHandler)
	mux.Handle("/", i.provider)
	i.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := i.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			i.log.Error("issuer serve", "err", err)
		}
	}()
	i.log.Info("oidc issuer started", "client_id", i.ClientID, "audience", i.Audience)
	return i, nil
}

// NewIssuer starts an issuer for a test and closes it with tb.Cleanup.
func NewIssuer(tb testing.TB, opts IssuerOptions) *Issuer {
	tb.Helper()
	i, err := StartIssuer(context.Background(), opts)
	if err != nil {
		tb.Fatalf("start oidc issuer: %v", err)
	}
	tb.Cleanup(func() {
		if err := i.Close(); err != nil {
			tb.Errorf("close oidc issuer: %v", err)
		}
	})
	return i
}

// Close stops the HTTP server. It is safe to call twice.
func (i *Issuer) Close() error {
	i.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := i.srv.Shutdown(ctx); err != nil {
			i.closeErr = errors.Join(fmt.Errorf("shut down issuer: %w", err), i.srv.Close())
		}
	})
	return i.closeErr
}
