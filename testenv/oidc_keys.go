package testenv

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// signingKey is one key of the issuer; it implements op.SigningKey and, for
// its public half, op.Key.
type signingKey struct {
	id      string
	alg     jose.SignatureAlgorithm
	private crypto.Signer
	retired time.Time // zero while current or never retired
}

var _ op.SigningKey = (*signingKey)(nil)

func (k *signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return k.alg }
func (k *signingKey) Key() any                                    { return k.private }
func (k *signingKey) ID() string                                  { return k.id }
func (k *signingKey) public() crypto.PublicKey                    { return k.private.Public() }

// publicKey is the JWKS view of a signingKey.
type publicKey struct{ k *signingKey }

var _ op.Key = publicKey{}

func (p publicKey) ID() string                         { return p.k.id }
func (p publicKey) Algorithm() jose.SignatureAlgorithm { return p.k.alg }
func (p publicKey) Use() string                        { return "sig" }
func (p publicKey) Key() any                           { return p.k.public() }

// newSigningKey makes a fresh key for alg (RS256 or ES256).
func newSigningKey(alg jose.SignatureAlgorithm) (*signingKey, error) {
	var (
		priv crypto.Signer
		err  error
	)
	switch alg {
	case jose.RS256:
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case jose.ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		return nil, fmt.Errorf("new signing key: unsupported algorithm %q (RS256 or ES256)", alg)
	}
	if err != nil {
		return nil, fmt.Errorf("new signing key: %w", err)
	}
	return &signingKey{id: "key-" + randomHex(8), alg: alg, private: priv}, nil
}

// keyring holds the current key and retired keys still published. Callers
// hold the storage lock.
type keyring struct {
	current *signingKey
	retired []*signingKey
	grace   time.Duration
	drop    bool
}

// rotate makes next current; the old key is published for grace more, or
// dropped at once when drop is set.
func (r *keyring) rotate(next *signingKey, now time.Time) {
	if old := r.current; old != nil && !r.drop {
		old.retired = now
		r.retired = append(r.retired, old)
	}
	r.current = next
}

// published returns the keys in the JWKS: the current one first, then
// retired keys within their grace period.
func (r *keyring) published(now time.Time) []op.Key {
	keep := r.retired[:0]
	for _, k := range r.retired {
		if now.Sub(k.retired) < r.grace {
			keep = append(keep, k)
		}
	}
	r.retired = keep
	out := []op.Key{publicKey{r.current}}
	for i := len(keep) - 1; i >= 0; i-- {
		out = append(out, publicKey{keep[i]})
	}
	return out
}
