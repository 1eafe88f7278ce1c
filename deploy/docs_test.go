package deploy

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// parseDir parses the non-test Go files of a package directory.
func parseDir(tb testing.TB, dir string) []*ast.File {
	tb.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	fset := token.NewFileSet()
	var files []*ast.File
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, e.Name()), nil, 0)
		if err != nil {
			tb.Fatal(err)
		}
		files = append(files, f)
	}
	return files
}

func stringLit(e ast.Expr) (string, bool) {
	bl, ok := e.(*ast.BasicLit)
	if !ok || bl.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(bl.Value)
	return s, err == nil
}

// constValues returns the string constants of dir whose type is typ (or,
// with typ "", whose name starts with prefix).
func constValues(tb testing.TB, dir, typ, prefix string) map[string]string {
	tb.Helper()
	out := map[string]string{}
	for _, f := range parseDir(tb, dir) {
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, s := range gd.Specs {
				vs := s.(*ast.ValueSpec)
				id, _ := vs.Type.(*ast.Ident)
				for i, n := range vs.Names {
					if i >= len(vs.Values) || (typ != "" && (id == nil || id.Name != typ)) || !strings.HasPrefix(n.Name, prefix) {
						continue
					}
					if v, ok := stringLit(vs.Values[i]); ok {
						out[n.Name] = v
					}
				}
			}
		}
	}
	return out
}

// rejectReasons finds every value of the reason label of
// interlock_connections_rejected_total in daemon/proxy: the first argument
// of reject(...) and ConnectionsRejected.WithLabelValues(...), where a
// prefix + token cause ("token_" + cause) expands to every identity cause.
func rejectReasons(tb testing.TB, root string) []string {
	tb.Helper()
	var causes []string
	for _, v := range constValues(tb, filepath.Join(root, "daemon", "identity"), "Cause", "") {
		causes = append(causes, v)
	}
	if len(causes) == 0 {
		tb.Fatal("no identity.Cause constants found: rejectReasons is broken")
	}
	set := map[string]bool{}
	for _, f := range parseDir(tb, filepath.Join(root, "daemon", "proxy")) {
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CallExpr:
				sel, ok := n.Fun.(*ast.SelectorExpr)
				if !ok || len(n.Args) == 0 {
					return true
				}
				counted := sel.Sel.Name == "reject"
				if sel.Sel.Name == "WithLabelValues" {
					if inner, ok := sel.X.(*ast.SelectorExpr); ok && inner.Sel.Name == "ConnectionsRejected" {
						counted = true
					}
				}
				if s, ok := stringLit(n.Args[0]); counted && ok {
					set[s] = true
				}
			case *ast.BinaryExpr:
				if s, ok := stringLit(n.X); ok && n.Op == token.ADD && s == "token_" {
					for _, c := range causes {
						set[s+c] = true
					}
				}
			case *ast.AssignStmt:
				// reason := "token" (the fallback of a token rejection)
				if len(n.Lhs) == 1 && len(n.Rhs) == 1 {
					if id, ok := n.Lhs[0].(*ast.Ident); ok && id.Name == "reason" {
						if s, ok := stringLit(n.Rhs[0]); ok && s == "token" {
							set[s] = true
						}
					}
				}
			}
			return true
		})
	}
	var out []string
	for r := range set {
		out = append(out, r)
	}
	slices.Sort(out)
	return out
}

// TestOperationsDocCoversRejections: every reason interlockd counts for a
// refused connection, and every SQLSTATE it sends, is explained in the
// troubleshooting section of docs/operations.md.
func TestOperationsDocCoversRejections(t *testing.T) {
	root := repoRoot(t)
	doc := string(readFile(t, filepath.Join(root, "docs", "operations.md")))
	reasons := rejectReasons(t, root)
	if len(reasons) < 10 {
		t.Fatalf("found only %d rejection reasons in daemon/proxy (%v): the parser is broken", len(reasons), reasons)
	}
	for _, r := range reasons {
		if !strings.Contains(doc, "`"+r+"`") {
			t.Errorf("docs/operations.md does not explain the rejection reason `%s`", r)
		}
	}

	codes := constValues(t, filepath.Join(root, "daemon", "pgwire"), "", "Code")
	used := map[string]bool{}
	for _, f := range parseDir(t, filepath.Join(root, "daemon", "proxy")) {
		ast.Inspect(f, func(n ast.Node) bool {
			if sel, ok := n.(*ast.SelectorExpr); ok {
				if x, ok := sel.X.(*ast.Ident); ok && x.Name == "pgwire" && strings.HasPrefix(sel.Sel.Name, "Code") {
					used[sel.Sel.Name] = true
				}
			}
			return true
		})
	}
	if len(used) < 5 {
		t.Fatalf("found only %d SQLSTATE constants used by daemon/proxy: the parser is broken", len(used))
	}
	for name := range used {
		code, ok := codes[name]
		if !ok {
			t.Errorf("pgwire.%s: constant not found in daemon/pgwire", name)
			continue
		}
		if !strings.Contains(doc, "`"+code+"`") {
			t.Errorf("docs/operations.md does not mention SQLSTATE `%s` (pgwire.%s), which interlockd sends", code, name)
		}
	}
}
