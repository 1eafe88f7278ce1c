package policy

import "github.com/open-policy-agent/opa/v1/ast"

// nondeterministic returns the first builtin the compiled policy calls
// whose result can change between evaluations of the same input
// (time.now_ns, http.send, rand.intn, ...), or "". Decisions of such a
// policy are never cached.
func nondeterministic(c *ast.Compiler) string {
	found := ""
	check := func(ref ast.Ref) {
		if found != "" {
			return
		}
		if b, ok := ast.BuiltinMap[ref.String()]; ok && b.Nondeterministic {
			found = b.Name
		}
	}
	for _, m := range c.Modules {
		ast.WalkExprs(m, func(e *ast.Expr) bool {
			if e.IsCall() {
				check(e.Operator())
			}
			return false
		})
		ast.WalkTerms(m, func(t *ast.Term) bool {
			if call, ok := t.Value.(ast.Call); ok && len(call) > 0 {
				if ref, ok := call[0].Value.(ast.Ref); ok {
					check(ref)
				}
			}
			return false
		})
	}
	return found
}
