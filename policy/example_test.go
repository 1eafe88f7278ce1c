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
