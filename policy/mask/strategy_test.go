package mask

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgtype"
)

func hexHMAC(key, v []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write(v)
	return hex.EncodeToString(m.Sum(nil))
}

func TestParseStrategy(t *testing.T) {
	for _, st := range append([]Strategy{Keep}, maskStrategies...) {
		got, err := ParseStrategy(st.String())
		if err != nil || got != st {
			t.Errorf("ParseStrategy(%q) = %v, %v; want %v", st.String(), got, err, st)
		}
	}
	if _, err := ParseStrategy("scramble"); err == nil {
		t.Errorf("ParseStrategy(scramble) succeeded, want an error")
	}
	if got := Strategy(42).String(); got != "Strategy(42)" {
		t.Errorf("Strategy(42).String() = %q", got)
	}
}

func TestNewHasherShortKey(t *testing.T) {
	if _, err := NewHasher([]byte("short")); err == nil {
		t.Fatal("NewHasher accepted a 5-byte key")
	}
}

func TestNewPlanRejects(t *testing.T) {
	h := mustHasher(t, testKey)
	text := pgtype.TextOID
	tests := []struct {
		name string
		col  Column
		h    *Hasher
		want string
	}{
		{"unknown strategy", Column{Rule: Rule{Strategy: 99}, TypeOID: uint32(text)}, h, "unknown strategy"},
		{"negative keep", Column{Rule: Rule{Strategy: Partial, KeepLast: -1}, TypeOID: uint32(text)}, h, "negative"},
		{"control fill", Column{Rule: Rule{Strategy: Partial, Fill: '\n'}, TypeOID: uint32(text)}, h, "printable"},
		{"invalid fill", Column{Rule: Rule{Strategy: Partial, Fill: 0xd800}, TypeOID: uint32(text)}, h, "printable"},
		{"short hash", Column{Rule: Rule{Strategy: Hash, HashLength: 4}, TypeOID: uint32(text)}, h, "hash length"},
		{"long base64 hash", Column{Rule: Rule{Strategy: Hash, HashEncoding: HashBase64, HashLength: 44}, TypeOID: uint32(text)}, h, "hash length"},
		{"unknown encoding", Column{Rule: Rule{Strategy: Hash, HashEncoding: 7}, TypeOID: uint32(text)}, h, "encoding"},
		{"format code", Column{Rule: Rule{Strategy: Redact}, TypeOID: uint32(text), Format: 2}, h, "format code"},
		{"hash without hasher", Column{Rule: Rule{Strategy: Hash}, TypeOID: uint32(text)}, nil, "hasher"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewPlan([]Column{tt.col}, tt.h)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("NewPlan error %v, want one mentioning %q", err, tt.want)
			}
			_, err = NewCopyPlan(CopyOptions{}, []Column{tt.col}, tt.h)
			if tt.name != "format code" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("NewCopyPlan error %v, want one mentioning %q", err, tt.want)
			}
		})
	}
}

// TestHashOfNonHashableNeedsNoHasher: a Hash rule on a type that is
// redacted instead needs no key.
func TestHashOfNonHashableNeedsNoHasher(t *testing.T) {
	p, err := NewPlan([]Column{{Rule: Rule{Strategy: Hash}, TypeOID: pgtype.Int4OID}}, nil)
	if err != nil {
		t.Fatalf("NewPlan: %v", err)
	}
	if !p.Masks() || p.Columns() != 1 {
		t.Fatalf("Masks() = %v, Columns() = %d", p.Masks(), p.Columns())
	}
}

func TestRedactable(t *testing.T) {
	for oid, want := range map[uint32]bool{
		pgtype.TextOID: true, pgtype.Int4ArrayOID: true, pgtype.UUIDOID: true,
		pgtype.PointOID: false, pgtype.XMLOID: false, 0: false, 123456: false,
	} {
		if got := Redactable(oid); got != want {
			t.Errorf("Redactable(%d) = %v, want %v", oid, got, want)
		}
	}
}

func TestErrorsAreSentinels(t *testing.T) {
	p := mustPlan(t, []Column{{TypeOID: pgtype.TextOID}}, nil)
	if _, err := p.AppendDataRow(nil, []byte{0, 1, 0}); !errors.Is(err, ErrMalformed) {
		t.Fatalf("error %v, want ErrMalformed", err)
	}
}
