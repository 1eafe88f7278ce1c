package audit

import (
	"crypto/ed25519"
	"encoding/base64"
	"os"
	"path/filepath"
	"testing"
)

func TestKeyFiles(t *testing.T) {
	pub, priv := testKey(t)
	dir := t.TempDir()
	privPEM, pubPEM := filepath.Join(dir, "audit.key"), filepath.Join(dir, "audit.pub")
	if err := SavePrivateKey(privPEM, priv); err != nil {
		t.Fatal(err)
	}
	if err := SavePublicKey(pubPEM, pub); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(privPEM); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("private key file mode = %v (%v), want 0600", st.Mode().Perm(), err)
	}
	if err := SavePrivateKey(privPEM, priv); err == nil {
		t.Error("SavePrivateKey overwrote an existing file")
	}
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	b64 := base64.StdEncoding.EncodeToString
	privFiles := map[string]string{
		"pem":         privPEM,
		"base64 seed": write("seed.b64", b64(priv.Seed())+"\n"),
		"base64 full": write("full.b64", b64(priv)),
	}
	for name, p := range privFiles {
		t.Run("private "+name, func(t *testing.T) {
			got, err := PrivateKeyFromFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(priv) {
				t.Error("loaded private key differs")
			}
		})
	}
	pubFiles := map[string]string{
		"pem":              pubPEM,
		"base64":           write("pub.b64", b64(pub)),
		"from private pem": privPEM,
	}
	for name, p := range pubFiles {
		t.Run("public "+name, func(t *testing.T) {
			got, err := PublicKeyFromFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(pub) {
				t.Error("loaded public key differs")
			}
		})
	}
	bad := map[string]string{
		"garbage":        write("garbage", "not a key!"),
		"short base64":   write("short", b64([]byte("abc"))),
		"public as priv": pubPEM,
		"inconsistent":   write("bad64", b64(append(priv.Seed(), make([]byte, 32)...))),
	}
	for name, p := range bad {
		t.Run("bad "+name, func(t *testing.T) {
			if _, err := PrivateKeyFromFile(p); err == nil {
				t.Error("PrivateKeyFromFile accepted it")
			}
		})
	}
	if _, err := PublicKeyFromFile(filepath.Join(dir, "missing")); err == nil {
		t.Error("PublicKeyFromFile of a missing file succeeded")
	}
	if id := KeyID(pub); len(id) != 32 || id != KeyID(priv.Public().(ed25519.PublicKey)) {
		t.Errorf("KeyID = %q", id)
	}
}
