package testenv

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// MintOptions are the claims of a token signed by Mint and the forgery
// helpers. Zero fields take the defaults noted.
type MintOptions struct {
	// User fills Subject, Email and Groups from this issuer user where
	// they are empty (nil for Groups).
	User string
	// Subject is sub; empty omits it.
	Subject string
	// Email is email; empty omits it.
	Email string
	// Groups is the groups claim (IssuerOptions.GroupsClaim); nil omits it.
	Groups []string
	// Audience is aud. Default [Issuer.Audience].
	Audience []string
	// Issuer is iss. Default Issuer.URL; set it to forge an unknown issuer.
	Issuer string
	// AuthorizedParty is azp; empty omits it.
	AuthorizedParty string
	// IssuedAt is iat. Default now.
	IssuedAt time.Time
	// Expiry is exp. Default IssuedAt + IssuerOptions.AccessTokenTTL; set
	// it in the past for an expired token.
	Expiry time.Time
	// NotBefore is nbf; zero omits it.
	NotBefore time.Time
	// Extra claims are set last, overriding the above; a nil value
	// removes the claim (e.g. {"exp": nil} for a token without expiry).
	Extra map[string]any
	// KeyID overrides the kid header.
	KeyID string
}

// Claims returns the claim set Mint would sign for o. It fails when o.User
// names no user.
func (i *Issuer) Claims(o MintOptions) (map[string]any, error) {
	if o.User != "" {
		u, ok := i.User(o.User)
		if !ok {
			return nil, fmt.Errorf("mint: user %q: %w", o.User, errNotFound)
		}
		if o.Subject == "" {
			o.Subject = u.Subject
		}
		if o.Email == "" {
			o.Email = u.Email
		}
		if o.Groups == nil {
			o.Groups = groupsOrEmpty(u.Groups)
		}
	}
	if o.Audience == nil {
		o.Audience = []string{i.Audience}
	}
	if o.Issuer == "" {
		o.Issuer = i.URL
	}
	if o.IssuedAt.IsZero() {
		o.IssuedAt = time.Now()
	}
	if o.Expiry.IsZero() {
		o.Expiry = o.IssuedAt.Add(i.opts.AccessTokenTTL)
	}
	c := map[string]any{
		"iss": o.Issuer,
		"aud": slices.Clone(o.Audience),
		"iat": o.IssuedAt.Unix(),
		"exp": o.Expiry.Unix(),
		"jti": randomHex(8),
	}
	if o.Subject != "" {
		c["sub"] = o.Subject
	}
	if o.Email != "" {
		c["email"] = o.Email
		c["email_verified"] = true
	}
	if o.Groups != nil {
		c[i.GroupsClaim] = slices.Clone(o.Groups)
	}
	if o.AuthorizedParty != "" {
		c["azp"] = o.AuthorizedParty
	}
	if !o.NotBefore.IsZero() {
		c["nbf"] = o.NotBefore.Unix()
	}
	for k, v := range o.Extra {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c, nil
}

// Mint signs a token with the issuer's current key: a token every verifier
// trusting this issuer accepts, unless o makes it invalid (expired, wrong
// audience or issuer, ...).
func (i *Issuer) Mint(o MintOptions) (string, error) {
	i.store.mu.Lock()
	key := i.store.keys.current
	i.store.mu.Unlock()
	kid := key.id
	if o.KeyID != "" {
		kid = o.KeyID
	}
	claims, err := i.Claims(o)
	if err != nil {
		return "", err
	}
	return signClaims(claims, key.alg, key.private, kid)
}

// MintForeignKey signs with a fresh key that is not in the JWKS. Its kid
// is random unless o.KeyID is set (e.g. to KeyID() to impersonate the
// current key).
func (i *Issuer) MintForeignKey(o MintOptions) (string, error) {
	key, err := newSigningKey(jose.SignatureAlgorithm(i.opts.Algorithm))
	if err != nil {
		return "", fmt.Errorf("mint foreign key: %w", err)
	}
	kid := "foreign-" + randomHex(4)
	if o.KeyID != "" {
		kid = o.KeyID
	}
	claims, err := i.Claims(o)
	if err != nil {
		return "", err
	}
	return signClaims(claims, key.alg, key.private, kid)
}

// MintAlgNone returns an unsigned token: header {"alg":"none"} and an
// empty signature.
func (i *Issuer) MintAlgNone(o MintOptions) (string, error) {
	kid := o.KeyID
	if kid == "" {
		kid = i.KeyID()
	}
	header, err := json.Marshal(map[string]string{"alg": "none", "typ": "JWT", "kid": kid})
	if err != nil {
		return "", fmt.Errorf("mint alg none: %w", err)
	}
	claims, err := i.Claims(o)
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("mint alg none: %w", err)
	}
	enc := base64.RawURLEncoding
	return enc.EncodeToString(header) + "." + enc.EncodeToString(payload) + ".", nil
}

// MintHS256PublicKey signs with HS256 using PublicKeyPEM() as the HMAC
// secret: the algorithm-confusion attack on verifiers that take the key
// from the JWKS without pinning the algorithm.
func (i *Issuer) MintHS256PublicKey(o MintOptions) (string, error) {
	secret, err := i.PublicKeyPEM()
	if err != nil {
		return "", err
	}
	kid := o.KeyID
	if kid == "" {
		kid = i.KeyID()
	}
	claims, err := i.Claims(o)
	if err != nil {
		return "", err
	}
	return signClaims(claims, jose.HS256, secret, kid)
}

// PublicKeyPEM is the current public key as a PEM "PUBLIC KEY" (PKIX) block.
func (i *Issuer) PublicKeyPEM() ([]byte, error) {
	i.store.mu.Lock()
	pub := i.store.keys.current.public()
	i.store.mu.Unlock()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("marshal public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// MalformedTokens returns strings that are not valid signed JWTs, by name:
// wrong part counts, bad base64, non-JSON header or payload, a truncated
// signature and a payload altered after signing (claims from o).
func (i *Issuer) MalformedTokens(o MintOptions) (map[string]string, error) {
	valid, err := i.Mint(o)
	if err != nil {
		return nil, err
	}
	parts := strings.Split(valid, ".")
	enc := base64.RawURLEncoding
	tampered, err := i.Claims(o)
	if err != nil {
		return nil, err
	}
	tampered["sub"] = "someone-else"
	tamperedPayload, err := json.Marshal(tampered)
	if err != nil {
		return nil, fmt.Errorf("malformed tokens: %w", err)
	}
	return map[string]string{
		"empty":               "",
		"one part":            "abc",
		"two parts":           parts[0] + "." + parts[1],
		"four parts":          valid + ".extra",
		"bad base64 header":   "!!!." + parts[1] + "." + parts[2],
		"header not json":     enc.EncodeToString([]byte("not json")) + "." + parts[1] + "." + parts[2],
		"payload not json":    parts[0] + "." + enc.EncodeToString([]byte("not json")) + "." + parts[2],
		"empty signature":     parts[0] + "." + parts[1] + ".",
		"truncated signature": parts[0] + "." + parts[1] + "." + parts[2][:len(parts[2])/2],
		"tampered payload":    parts[0] + "." + enc.EncodeToString(tamperedPayload) + "." + parts[2],
	}, nil
}

// signClaims signs claims as a compact JWS with typ JWT.
func signClaims(claims map[string]any, alg jose.SignatureAlgorithm, key any, kid string) (string, error) {
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: key, KeyID: kid}},
		(&jose.SignerOptions{}).WithType("JWT"),
	)
	if err != nil {
		return "", fmt.Errorf("new signer: %w", err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("marshal claims: %w", err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return jws.CompactSerialize()
}
