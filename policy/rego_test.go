package policy

import (
	"context"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/tester"
)

// TestRegoPolicy runs the default policy's Rego tests (rego/*_test.rego),
// as `opa test policy/rego` would. It fails when a Rego test fails or when
// none ran.
func TestRegoPolicy(t *testing.T) {
	modules, store, err := tester.LoadWithRegoVersion([]string{"rego"}, nil, ast.RegoV1)
	if err != nil {
		t.Fatalf("load Rego tests: %v", err)
	}
	ch, err := tester.NewRunner().
		SetDefaultRegoVersion(ast.RegoV1).
		SetStore(store).
		SetModules(modules).
		RaiseBuiltinErrors(true).
		RunTests(context.Background(), nil)
	if err != nil {
		t.Fatalf("run Rego tests: %v", err)
	}
	ran := 0
	for r := range ch {
		ran++
		switch {
		case r.Error != nil:
			t.Errorf("%s.%s (%v): error: %v", r.Package, r.Name, r.Location, r.Error)
		case r.Fail:
			t.Errorf("%s.%s (%v): failed", r.Package, r.Name, r.Location)
		case r.Skip:
			t.Errorf("%s.%s (%v): skipped", r.Package, r.Name, r.Location)
		}
	}
	if ran == 0 {
		t.Fatal("no Rego tests ran")
	}
	t.Logf("%d Rego tests ran", ran)
}
