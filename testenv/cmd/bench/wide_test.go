package main

import (
	"context"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/interlock-dev/interlock/policy"
)

// TestWidePolicy: with the bench's policy data, the default policy masks
// exactly the 3 tagged columns of public.wide for the bench identity and
// nothing for a member of pii-readers, and lets both read the table.
func TestWidePolicy(t *testing.T) {
	ctx := context.Background()
	e, err := policy.New(ctx, policy.Config{Data: widePolicyData(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	session := func(groups []string) *policy.Session {
		return e.Session(policy.Context{
			User:     policy.User{Sub: "bench", Groups: groups},
			Session:  policy.SessionInfo{Database: "interlock", UpstreamUser: "interlock_admin"},
			Endpoint: policy.Endpoint{Name: "bench", Labels: map[string]string{"environment": "development"}},
		})
	}
	want := map[string]policy.MaskRule{
		"public.wide.c3":  {Strategy: policy.MaskPartial, Keep: 4},
		"public.wide.c7":  {Strategy: policy.MaskEmail},
		"public.wide.c12": {Strategy: policy.MaskRedact},
	}
	query := strings.TrimSpace(wideScript)
	r, err := session([]string{benchGroup}).Check(ctx, query, policy.SCSOn)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Allowed() || !maps.Equal(r.Decision.Mask, want) {
		t.Errorf("bench identity: allowed %v (%s), mask %v, want allowed with %v", r.Allowed(), r.Decision.Reason, r.Decision.Mask, want)
	}
	r, err = session([]string{benchGroup, unmaskedGroup}).Check(ctx, query, policy.SCSOn)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Allowed() || len(r.Decision.Mask) != 0 {
		t.Errorf("pii-readers: allowed %v (%s), mask %v, want allowed without a mask", r.Allowed(), r.Decision.Reason, r.Decision.Mask)
	}
	if got := wideMaskedNames(); !slices.Equal(got, []string{"c3", "c7", "c12"}) {
		t.Errorf("wideMaskedNames = %v", got)
	}
}

func TestWideSQL(t *testing.T) {
	sql := wideSQL()
	if len(sql) != 3 || !strings.HasPrefix(sql[0], "CREATE TABLE wide (c1 bigint PRIMARY KEY, c2 integer NOT NULL, ") ||
		!strings.HasSuffix(sql[1], "FROM generate_series(1, 10000) AS g") || sql[2] != "VACUUM ANALYZE wide" {
		t.Errorf("wideSQL = %q", sql)
	}
	if len(wideColumns) != 20 {
		t.Errorf("%d columns, want 20", len(wideColumns))
	}
}

func TestDataRowSize(t *testing.T) {
	tests := []struct {
		values [][]byte
		want   int64
	}{
		{nil, 7}, // 'D', length, column count
		{[][]byte{[]byte("abc"), nil}, 7 + 4 + 3 + 4}, // NULL: a length of -1, no bytes
		{[][]byte{{}}, 7 + 4},                         // empty string
	}
	for _, tt := range tests {
		if got := dataRowSize(tt.values); got != tt.want {
			t.Errorf("dataRowSize(%q) = %d, want %d", tt.values, got, tt.want)
		}
	}
}
