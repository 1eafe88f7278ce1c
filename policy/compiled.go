package policy

import (
	"context"
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
)

// compiled is one generation of the policy, prepared for evaluation.
type compiled struct {
	gen     uint64
	query   string
	pq      rego.PreparedEvalQuery
	digest  [sha256.Size]byte
	modules int
	// reads is what of the input the policy can read (nil: all of it).
	reads inputTree
	// volatile names a nondeterministic builtin the policy calls; its
	// decisions are then never cached.
	volatile string
	closed   bool // the engine is closed: deny everything
}

// compile prepares query over src with doc as data.interlock_config.
func compile(ctx context.Context, src *source, doc map[string]any, query string, ref ast.Ref) (*compiled, error) {
	compiler := ast.NewCompiler().WithDefaultRegoVersion(ast.RegoV1)
	opts := []func(*rego.Rego){
		rego.Query(query),
		rego.Compiler(compiler),
		rego.SetRegoVersion(ast.RegoV1),
		// doc went through JSON (encodeData), so it converts safely; AST values
		// on read spare a conversion of the data on every evaluation.
		rego.Store(inmem.NewFromObjectWithOpts(map[string]any{DataKey: doc}, inmem.OptReturnASTValuesOnRead(true))),
		// A builtin error (a type error, say) must not quietly make a deny
		// rule undefined: it fails the evaluation, which denies.
		rego.StrictBuiltinErrors(true),
	}
	for _, m := range src.modules {
		opts = append(opts, rego.ParsedModule(m))
	}
	pq, err := rego.New(opts...).PrepareForEval(ctx)
	if err != nil {
		return nil, fmt.Errorf("compile policy: %w", err)
	}
	if len(compiler.GetRules(ref)) == 0 {
		return nil, fmt.Errorf("compile policy: no rule defines %s", query)
	}
	return &compiled{
		query:    query,
		pq:       pq,
		digest:   src.digest,
		modules:  len(src.modules),
		reads:    readInputPaths(compiler, ref),
		volatile: nondeterministic(compiler),
	}, nil
}

// eval evaluates the policy for one input. Whatever goes wrong, the
// decision denies with a reason; err is non-nil when the evaluation itself
// failed (such decisions must not be cached).
func (c *compiled) eval(ctx context.Context, input ast.Value, obs Observer) (Decision, error) {
	if c.closed {
		return Decision{Reason: "policy engine is closed"}, ErrClosed
	}
	start := time.Now()
	rs, err := c.pq.Eval(ctx, rego.EvalParsedInput(input))
	obs.Evaluated(time.Since(start), err)
	if err != nil {
		return Decision{Reason: "policy evaluation failed: " + err.Error()},
			fmt.Errorf("evaluate policy: %w", err)
	}
	return c.decision(rs), nil
}

// decision reads a Decision out of a result set, failing closed on any
// surprise.
func (c *compiled) decision(rs rego.ResultSet) Decision {
	if len(rs) == 0 || len(rs[0].Expressions) == 0 {
		return Decision{Reason: fmt.Sprintf("policy decision %s is undefined", c.query)}
	}
	if len(rs) > 1 {
		return Decision{Reason: fmt.Sprintf("policy decision %s has %d results", c.query, len(rs))}
	}
	obj, ok := rs[0].Expressions[0].Value.(map[string]any)
	if !ok {
		return Decision{Reason: fmt.Sprintf("policy decision %s is not an object", c.query)}
	}
	d, err := readDecision(obj)
	if err != nil {
		return Decision{Reason: fmt.Sprintf("policy decision %s %v", c.query, err)}
	}
	return d
}
