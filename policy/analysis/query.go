package analysis

import (
	"strconv"

	pg_query "github.com/pganalyze/pg_query_go/v6"
)

// prov computes the provenance of one statement: the lineage of its output
// columns, the columns its predicates use and the columns it copies.
type prov struct {
	schema  string
	filters []string
	copied  []string
	// steps bounds the work on one statement (nested recursive CTEs
	// multiply it); past the bound everything is unknown.
	steps int
	over  bool
}

const (
	maxSteps   = 50000
	tooComplex = "statement too complex to analyse"
	// maxRecursion bounds the fixpoint iterations of WITH RECURSIVE.
	maxRecursion = 32
)

func newProv(schema string) *prov { return &prov{schema: schema} }

// step counts one unit of work and reports whether the budget allows it.
func (p *prov) step() bool {
	p.steps++
	if p.steps > maxSteps {
		p.over = true
	}
	return !p.over
}

// qctx is the context of the expressions of one query level.
type qctx struct {
	sc      *scope
	env     *cteEnv
	windows []*pg_query.Node // the level's WINDOW clause
	pred    *lin             // the level's predicate lineage
	out     []outCol         // the level's output, for ORDER BY names
	setop   bool             // ORDER BY of a set operation or VALUES
}

// result is the analysis of a query: its output entries and the lineage of
// its predicates (including those of its FROM subqueries and CTEs), which
// a scalar or IN subquery's value depends on.
type result struct {
	cols []outCol
	pred lin
}

// predicate records l as used by a predicate of q's level.
func (p *prov) predicate(q *qctx, l lin) {
	q.pred.add(l)
	p.filters = l.flat(p.filters)
}

// cteEnv is the chain of common table expressions in scope.
type cteEnv struct {
	parent *cteEnv
	name   string
	def    *cteDef
}

type cteDef struct {
	cols    []outCol
	pred    lin
	pending bool // WITH RECURSIVE, before the first iteration
}

func (e *cteEnv) find(name string) *cteDef {
	for ; e != nil; e = e.parent {
		if e.name == name {
			return e.def
		}
	}
	return nil
}

// query analyses a query node: SELECT, or a data-modifying statement
// (its RETURNING list is its output).
func (p *prov) query(n *pg_query.Node, outer *scope, env *cteEnv) result {
	switch x := n.GetNode().(type) {
	case *pg_query.Node_SelectStmt:
		return p.selectStmt(x.SelectStmt, outer, env)
	case *pg_query.Node_InsertStmt:
		return p.insertStmt(x.InsertStmt, outer, env)
	case *pg_query.Node_UpdateStmt:
		return p.updateStmt(x.UpdateStmt, outer, env)
	case *pg_query.Node_DeleteStmt:
		return p.deleteStmt(x.DeleteStmt, outer, env)
	case *pg_query.Node_MergeStmt:
		return p.mergeStmt(x.MergeStmt, outer, env)
	}
	p.generic(n)
	return result{cols: []outCol{{many: true, lin: lin{unknown: "query of an unexpected form"}}}}
}

// with analyses a WITH clause and returns the environment its statement
// sees. Without RECURSIVE each CTE sees the ones before it; with it, every
// CTE sees all of them, and their lineage is iterated to a fixpoint.
func (p *prov) with(wc *pg_query.WithClause, outer *scope, env *cteEnv) *cteEnv {
	if wc == nil {
		return env
	}
	if !wc.Recursive {
		for _, n := range wc.Ctes {
			c := n.GetCommonTableExpr()
			if c == nil {
				continue
			}
			def := p.cte(c, outer, env)
			env = &cteEnv{parent: env, name: c.Ctename, def: def}
		}
		return env
	}
	var ctes []*pg_query.CommonTableExpr
	var defs []*cteDef
	for _, n := range wc.Ctes {
		if c := n.GetCommonTableExpr(); c != nil {
			d := &cteDef{pending: true}
			ctes, defs = append(ctes, c), append(defs, d)
			env = &cteEnv{parent: env, name: c.Ctename, def: d}
		}
	}
	for iter := 0; ; iter++ {
		changed := false
		for i, c := range ctes {
			d := p.cte(c, outer, env)
			if defs[i].pending || !colsEqual(d.cols, defs[i].cols) || !d.pred.equal(defs[i].pred) {
				changed = true
				*defs[i] = *d
			}
		}
		if !changed || p.over {
			break
		}
		if iter == maxRecursion {
			for _, d := range defs {
				d.cols = []outCol{{many: true, lin: lin{unknown: "recursive query lineage does not converge"}}}
			}
			break
		}
	}
	return env
}

// cte analyses one common table expression.
func (p *prov) cte(c *pg_query.CommonTableExpr, outer *scope, env *cteEnv) *cteDef {
	res := p.query(c.Ctequery, outer, env)
	cols, fuzzy := renameCols(res.cols, strList(c.Aliascolnames))
	if fuzzy {
		cols = []outCol{{many: true, lin: allLin(cols)}}
	}
	for i := range cols {
		cols[i].canon()
	}
	res.pred.canon()
	return &cteDef{cols: cols, pred: res.pred}
}

// renameCols applies an alias column list. It reports fuzzy when a name
// falls on or after an entry of unknown width.
func renameCols(cols []outCol, names []string) ([]outCol, bool) {
	if len(names) == 0 {
		return cols, false
	}
	for i, name := range names {
		if i >= len(cols) || !cols[i].single() {
			return cols, true
		}
		cols[i].name, cols[i].named = name, true
	}
	return cols, false
}

// strList returns the values of a list of String nodes.
func strList(ns []*pg_query.Node) []string {
	if len(ns) == 0 {
		return nil
	}
	out := make([]string, 0, len(ns))
	for _, n := range ns {
		out = append(out, n.GetString_().GetSval())
	}
	return out
}

// hasInto reports whether a SELECT (or the leftmost SELECT of a set
// operation, where the grammar puts it) has INTO.
func hasInto(s *pg_query.SelectStmt) bool {
	for ; s != nil; s = s.Larg {
		if s.IntoClause != nil {
			return true
		}
	}
	return false
}

func (p *prov) selectStmt(s *pg_query.SelectStmt, outer *scope, env *cteEnv) result {
	if s == nil || !p.step() {
		return result{cols: []outCol{{many: true, lin: lin{unknown: tooComplex}}}}
	}
	var res result
	env = p.with(s.WithClause, outer, env)
	q := &qctx{sc: &scope{parent: outer}, env: env, pred: &res.pred}
	switch {
	case s.Larg != nil && s.Rarg != nil:
		l := p.selectStmt(s.Larg, outer, env)
		r := p.selectStmt(s.Rarg, outer, env)
		res.pred.add(l.pred)
		res.pred.add(r.pred)
		res.cols = unionCols(l.cols, r.cols)
		if s.Op != pg_query.SetOperation_SETOP_UNION || !s.All {
			// Duplicate elimination and INTERSECT/EXCEPT compare every
			// column of every row.
			p.predicate(q, allLin(l.cols))
			p.predicate(q, allLin(r.cols))
		}
		q.setop = true
	case len(s.ValuesLists) > 0:
		res.cols = p.values(s.ValuesLists, q)
		q.setop = true
	default:
		for _, n := range s.FromClause {
			q.sc.items = append(q.sc.items, p.fromItem(n, q.sc, q))
		}
		if s.WhereClause != nil {
			p.predicate(q, p.expr(s.WhereClause, q))
		}
		q.windows = s.WindowClause
		for _, n := range s.TargetList {
			res.cols = append(res.cols, p.target(n.GetResTarget(), q)...)
		}
		q.out = res.cols
		for _, n := range s.GroupClause {
			p.groupItem(n, q)
		}
		if s.HavingClause != nil {
			p.predicate(q, p.expr(s.HavingClause, q))
		}
		for _, n := range s.WindowClause {
			if wd := n.GetWindowDef(); wd != nil {
				p.predicate(q, p.window(wd, q, 0))
			}
		}
		if len(s.DistinctClause) > 0 {
			if len(s.DistinctClause) == 1 && s.DistinctClause[0].GetNode() == nil {
				// Plain DISTINCT compares every output column.
				p.predicate(q, allLin(res.cols))
			}
			for _, n := range s.DistinctClause {
				if n.GetNode() != nil {
					p.sortKey(n, q, true, true)
				}
			}
		}
	}
	q.out = res.cols
	for _, n := range s.SortClause {
		p.sortKey(n.GetSortBy().GetNode(), q, true, true)
	}
	if s.LimitCount != nil {
		p.predicate(q, p.expr(s.LimitCount, q))
	}
	if s.LimitOffset != nil {
		p.predicate(q, p.expr(s.LimitOffset, q))
	}
	return res
}

// unionCols combines the outputs of two set operation branches column by
// column. Branches whose entries do not line up (a star against single
// columns) give one entry of unknown width derived from everything.
func unionCols(a, b []outCol) []outCol {
	aligned := len(a) == len(b)
	for i := 0; aligned && i < len(a); i++ {
		switch {
		case a[i].single() && b[i].single():
		case a[i].star != nil && b[i].star != nil:
		default:
			aligned = false
		}
	}
	if !aligned {
		l := allLin(a)
		l.add(allLin(b))
		return []outCol{{many: true, lin: l}}
	}
	out := make([]outCol, len(a))
	for i := range a {
		c := cloneCol(a[i])
		c.direct = false
		c.lin.add(b[i].lin)
		if c.star != nil {
			bs := cloneStar(b[i].star)
			c.star.Union = append(c.star.Union, StarRef{Table: bs.Table, Except: bs.Except})
			c.star.Union = append(c.star.Union, bs.Union...)
		}
		out[i] = c
	}
	return out
}

// values analyses a VALUES list: column i derives from every row's i-th
// expression.
func (p *prov) values(rows []*pg_query.Node, q *qctx) []outCol {
	var cols []outCol
	for _, r := range rows {
		for i, e := range r.GetList().GetItems() {
			if i >= len(cols) {
				cols = append(cols, outCol{name: "column" + strconv.Itoa(i+1), named: true})
			}
			cols[i].lin.add(p.expr(e, q))
		}
	}
	return cols
}

// target analyses one entry of a target or RETURNING list.
func (p *prov) target(rt *pg_query.ResTarget, q *qctx) []outCol {
	if rt == nil {
		return nil
	}
	if cr := rt.Val.GetColumnRef(); cr != nil && isStar(cr) {
		return p.starTarget(cr, q)
	}
	if ind := rt.Val.GetAIndirection(); ind != nil && len(ind.Indirection) > 0 && ind.Indirection[len(ind.Indirection)-1].GetAStar() != nil {
		// (expr).*: the fields of a composite value.
		return []outCol{{many: true, lin: p.expr(rt.Val, q)}}
	}
	var c outCol
	if cr := rt.Val.GetColumnRef(); cr != nil {
		m := p.resolveRef(cr, q)
		c.lin, c.direct = m.lin, m.direct
	} else {
		c.lin = p.expr(rt.Val, q)
	}
	if rt.Name != "" {
		c.name, c.named = rt.Name, true
	} else {
		c.name, c.named = p.colname(rt.Val)
	}
	return []outCol{c}
}

// starTarget expands * or t.* in a target list.
func (p *prov) starTarget(cr *pg_query.ColumnRef, q *qctx) []outCol {
	names := refNames(cr)
	if len(names) == 0 {
		var out []outCol
		for _, it := range q.sc.items {
			out = append(out, it.expand(nil)...)
		}
		return out
	}
	if it := p.findItem(names, q.sc); it != nil {
		return it.expand(nil)
	}
	// A composite column's fields (t.col.*), or an unresolved name.
	m := p.resolve(names, q.sc)
	return []outCol{{many: true, lin: m.lin}}
}

// findItem finds the FROM item a qualified star or whole-row reference
// names: t, schema.t, or db.schema.t.
func (p *prov) findItem(names []string, sc *scope) *fromItem {
	for s := sc; s != nil; s = s.parent {
		var it *fromItem
		switch len(names) {
		case 1:
			it = s.byRefname(names[0])
		case 2, 3:
			it = s.byTable(names[len(names)-2], names[len(names)-1])
		}
		if it != nil {
			return it
		}
	}
	return nil
}

// groupItem records a GROUP BY element. An integer constant is a position
// in the output list: its value is a constant, so every output column
// counts. A bare name may be an output column's name.
func (p *prov) groupItem(n *pg_query.Node, q *qctx) {
	if gs := n.GetGroupingSet(); gs != nil {
		for _, c := range gs.Content {
			p.groupItem(c, q)
		}
		return
	}
	p.sortKey(n, q, true, false)
}

// sortKey records an ORDER BY, DISTINCT ON or GROUP BY key. positional
// says whether an integer constant there names an output column;
// outputFirst that a bare name names an output column before an input one
// (ORDER BY, DISTINCT ON; GROUP BY tries input columns first).
func (p *prov) sortKey(n *pg_query.Node, q *qctx, positional, outputFirst bool) {
	if n == nil {
		return
	}
	if positional {
		if n.GetAConst() != nil {
			p.predicate(q, allLin(q.out))
			return
		}
		if cr := n.GetColumnRef(); cr != nil && len(cr.Fields) == 1 && !isStar(cr) {
			name := cr.Fields[0].GetString_().GetSval()
			// Output columns of that name, or that may have it.
			m := lookupCols(q.out, false, name)
			if q.setop && !m.certain {
				// A set operation's ORDER BY names output columns.
				m = match{lin: allLin(q.out), found: true, certain: true}
			}
			if m.found {
				p.predicate(q, m.lin)
			}
			if m.certain && outputFirst {
				// ORDER BY and DISTINCT ON prefer an output column.
				return
			}
		}
	}
	p.predicate(q, p.expr(n, q))
}

// refNames returns the name parts of a column reference, without a
// trailing star.
func refNames(cr *pg_query.ColumnRef) []string {
	out := make([]string, 0, len(cr.Fields))
	for _, f := range cr.Fields {
		if s := f.GetString_(); s != nil {
			out = append(out, s.Sval)
		}
	}
	return out
}

func isStar(cr *pg_query.ColumnRef) bool {
	return len(cr.Fields) > 0 && cr.Fields[len(cr.Fields)-1].GetAStar() != nil
}
