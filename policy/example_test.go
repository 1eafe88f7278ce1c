package policy_test

import (
	"context"
	"fmt"

	"github.com/interlock-dev/interlock/policy"
)

func Example() {
	ctx := context.Background()
	// No Paths: the default policy embedded from policy/rego.
	e, err := policy.New(ctx, policy.Config{
		Data: map[string]any{"groups": map[string]any{"readers": []string{"analysts"}}},
	})
	if err != nil {
		panic(err)
	}
	defer e.Close()

	s := e.Session(policy.Context{
		User:     policy.User{Sub: "u1", Email: "alice@example.com", Groups: []string{"analysts"}},
		Endpoint: policy.Endpoint{Name: "orders", Labels: map[string]string{"environment": "production"}},
	})
	for _, q := range []string{
		"SELECT * FROM orders WHERE id = 1",
		"SELECT * FROM orders WHERE id = 2",
		"DELETE FROM orders WHERE id = 1",
	} {
		r, err := s.Check(ctx, q, policy.SCSOn)
		if err != nil {
			panic(err)
		}
		fmt.Printf("%v cached=%v: %s\n", r.Allowed(), r.Cached, r.Decision.Reason)
	}
	// Output:
	// true cached=false: allowed for the reader role
	// true cached=true: allowed for the reader role
	// false cached=false: delete statements need the writer role; alice@example.com has the reader role
}

// The default policy with masking and approval settings: a masked column
// in the results, a leaking predicate denied, an UPDATE without WHERE on
// production held for approval.
func Example_maskAndApproval() {
	ctx := context.Background()
	e, err := policy.New(ctx, policy.Config{Data: map[string]any{
		"columns": map[string]any{
			"public.customers.ssn": map[string]any{"tags": []string{"pii"}, "mask": map[string]any{"strategy": "partial", "keep": 4}},
		},
	}})
	if err != nil {
		panic(err)
	}
	defer e.Close()

	s := e.Session(policy.Context{
		User:     policy.User{Sub: "u2", Email: "carol@example.com", Groups: []string{"writers"}},
		Endpoint: policy.Endpoint{Name: "orders", Labels: map[string]string{"environment": "production"}},
	})
	for _, q := range []string{
		"SELECT name, ssn FROM customers WHERE id = 1",
		"SELECT name FROM customers WHERE ssn LIKE '123%'",
		"UPDATE accounts SET balance = 0",
	} {
		r, err := s.Check(ctx, q, policy.SCSOn)
		if err != nil {
			panic(err)
		}
		d := r.Decision
		switch {
		case d.NeedsApproval():
			fmt.Printf("held for %v within %v: %s\n", d.RequireApproval.ApproverGroups, d.RequireApproval.Timeout, d.Reason)
		case d.Allow:
			r := d.Mask["public.customers.ssn"]
			fmt.Printf("allowed, %d column masked: ssn %s, keep %d\n", len(d.Mask), r.Strategy, r.Keep)
		default:
			fmt.Printf("denied: %s\n", d.Reason)
		}
	}
	// Output:
	// allowed, 1 column masked: ssn partial, keep 4
	// denied: column public.customers.ssn is masked for carol@example.com: it may not be used to filter, join, group or sort rows
	// held for [approvers] within 5m0s: UPDATE without WHERE on production needs approval by approvers
}
