package policy

import (
	"encoding/json"
	"unique"

	"github.com/open-policy-agent/opa/v1/ast"
)

// inputTree is the set of input paths a compiled policy can read, as a
// trie: a node with no children means everything below it. A nil tree
// means the policy may read the whole input.
//
// Decisions are cached per context, and a context carries values that
// change with every connection (origin.pid, session.client_addr). Keying
// the decision cache on only the parts the policy reads lets connections
// that differ elsewhere share decisions: two inputs that agree on every
// path the policy can reference evaluate the same.
type inputTree map[string]inputTree

// readInputPaths collects the input paths that the compiled modules and
// the query can reference. A reference is cut at its first term that is
// not a constant string (input.user.groups[_] reads input.user.groups);
// input used as a value (x := input, object.get(input, ...)) reads
// everything, and so does anything the walk does not recognise.
func readInputPaths(c *ast.Compiler, query ast.Ref) inputTree {
	root := inputTree{}
	whole := false
	visit := func(t *ast.Term) bool {
		switch v := t.Value.(type) {
		case ast.Ref:
			if !v[0].Equal(ast.InputRootDocument) {
				return false
			}
			var path []string
			for _, p := range v[1:] {
				s, ok := p.Value.(ast.String)
				if !ok {
					break
				}
				path = append(path, string(s))
			}
			if len(path) == 0 {
				whole = true
			} else {
				root.add(path)
			}
			// Terms inside the reference (input[data.x]) are visited
			// for their own references.
			for _, p := range v[1:] {
				ast.WalkTerms(p, func(t *ast.Term) bool { return visitNested(t, root, &whole) })
			}
			return true
		case ast.Var:
			if v.Equal(ast.InputRootDocument.Value) {
				whole = true
			}
		}
		return false
	}
	for _, m := range c.Modules {
		ast.WalkTerms(m, visit)
	}
	ast.WalkTerms(ast.NewTerm(query), visit)
	if whole {
		return nil
	}
	return root
}

// visitNested handles terms nested in an input reference the same way.
func visitNested(t *ast.Term, root inputTree, whole *bool) bool {
	switch v := t.Value.(type) {
	case ast.Ref:
		if v[0].Equal(ast.InputRootDocument) {
			*whole = true // rare enough not to refine
			return true
		}
	case ast.Var:
		if v.Equal(ast.InputRootDocument.Value) {
			*whole = true
		}
	}
	return false
}

// add records path. A path already read whole covers it; it replaces
// the longer paths below it.
func (t inputTree) add(path []string) {
	node := t
	for i, p := range path {
		child, ok := node[p]
		switch {
		case ok && len(child) == 0:
			return // read whole already
		case i == len(path)-1:
			node[p] = inputTree{}
			return
		case !ok:
			// An inner node: it gets a child in the next iteration, so it
			// never stays empty (which would mean "whole").
			child = inputTree{}
			node[p] = child
		}
		node = child
	}
}

// project copies from doc the values under the tree's paths.
func (t inputTree) project(doc map[string]any) map[string]any {
	out := make(map[string]any, len(t))
	for k, child := range t {
		v, ok := doc[k]
		if !ok {
			continue
		}
		if m, isObj := v.(map[string]any); isObj && len(child) > 0 {
			out[k] = child.project(m)
		} else {
			out[k] = v
		}
	}
	return out
}

// contextKey returns the interning handle of the parts of the session's
// context that the policy in cur reads. It is recomputed when the policy
// changes.
func (s *Session) contextKey(cur *compiled) unique.Handle[string] {
	if s.keyGen == cur.gen && s.keyGen != 0 {
		return s.ctxKey
	}
	key := s.ctxJSON
	if cur.reads != nil {
		if b, err := json.Marshal(cur.reads.project(s.ctxDoc)); err == nil {
			key = string(b)
		}
	}
	s.ctxKey, s.keyGen = unique.Make(key), cur.gen
	return s.ctxKey
}
