package analysis

import (
	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// expr returns the lineage of an expression: everything it touches.
func (p *prov) expr(n *pg_query.Node, q *qctx) lin {
	var l lin
	p.exprInto(&l, n, q)
	return l
}

// exprInto adds the lineage of n to l. Predicates inside the expression
// (CASE conditions, aggregate FILTER and ORDER BY, window clauses, IN, ANY,
// ALL and EXISTS subqueries) are also recorded as filters.
func (p *prov) exprInto(l *lin, n *pg_query.Node, q *qctx) {
	if n == nil || n.Node == nil {
		return
	}
	if !p.step() {
		l.setUnknown(tooComplex)
		return
	}
	switch x := n.Node.(type) {
	case *pg_query.Node_AConst:
	case *pg_query.Node_ColumnRef:
		p.columnRef(l, x.ColumnRef, q)
	case *pg_query.Node_ParamRef:
		l.params = append(l.params, int(x.ParamRef.Number))
	case *pg_query.Node_FuncCall:
		p.funcCall(l, x.FuncCall, q)
	case *pg_query.Node_SubLink:
		p.subLink(l, x.SubLink, q)
	case *pg_query.Node_CaseExpr:
		ce := x.CaseExpr
		var cond lin
		p.exprInto(&cond, ce.Arg, q)
		for _, w := range ce.Args {
			cw := w.GetCaseWhen()
			p.exprInto(&cond, cw.GetExpr(), q)
			p.exprInto(l, cw.GetResult(), q)
		}
		p.exprInto(l, ce.Defresult, q)
		p.filters = cond.flat(p.filters)
		l.add(cond)
	case *pg_query.Node_AIndirection:
		p.indirection(l, x.AIndirection, q)
	case *pg_query.Node_SelectStmt, *pg_query.Node_InsertStmt, *pg_query.Node_UpdateStmt,
		*pg_query.Node_DeleteStmt, *pg_query.Node_MergeStmt:
		res := p.query(n, q.sc, q.env)
		l.add(allLin(res.cols))
		l.add(res.pred)
	default:
		p.exprFields(l, innerMessage(n.ProtoReflect()), q)
	}
}

// exprFields adds the lineage of every expression inside m.
func (p *prov) exprFields(l *lin, m protoreflect.Message, q *qctx) {
	if m == nil || !m.IsValid() {
		return
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Message() == nil || fd.IsMap() {
			return true
		}
		if fd.IsList() {
			list := v.List()
			for i := range list.Len() {
				p.exprMsg(l, list.Get(i).Message(), q)
			}
			return true
		}
		p.exprMsg(l, v.Message(), q)
		return true
	})
}

func (p *prov) exprMsg(l *lin, m protoreflect.Message, q *qctx) {
	switch x := m.Interface().(type) {
	case *pg_query.Node:
		p.exprInto(l, x, q)
	case *pg_query.WindowDef:
		w := p.window(x, q, 0)
		p.filters = w.flat(p.filters)
		l.add(w)
	default:
		p.exprFields(l, m, q)
	}
}

// columnRef adds the lineage of a column reference; t.* or * inside an
// expression (ROW(t.*), row_to_json(t.*)) is a whole row.
func (p *prov) columnRef(l *lin, cr *pg_query.ColumnRef, q *qctx) {
	names := refNames(cr)
	if !isStar(cr) {
		l.add(p.resolve(names, q.sc).lin)
		return
	}
	if len(names) == 0 {
		for _, it := range q.sc.items {
			l.add(it.whole())
		}
		return
	}
	if it := p.findItem(names, q.sc); it != nil {
		l.add(it.whole())
		return
	}
	l.add(p.composite(names, q.sc).lin)
}

// resolveRef resolves a column reference that is not a star.
func (p *prov) resolveRef(cr *pg_query.ColumnRef, q *qctx) match {
	return p.resolve(refNames(cr), q.sc)
}

// indirection handles (x).f, x[i] and (expr).f: a field of a FROM item named
// x is that item's column f (or a field of a composite column x).
func (p *prov) indirection(l *lin, ind *pg_query.A_Indirection, q *qctx) {
	rest := ind.Indirection
	if cr := ind.Arg.GetColumnRef(); cr != nil && !isStar(cr) && len(rest) > 0 && rest[0].GetString_() != nil {
		names := refNames(cr)
		if it := p.findItem(names, q.sc); it != nil {
			l.add(it.lookup(rest[0].GetString_().Sval).lin)
			if len(names) == 1 {
				l.add(p.resolveName(names[0], q.sc, false).lin)
			}
			rest = rest[1:]
		} else {
			p.exprInto(l, ind.Arg, q)
		}
	} else {
		p.exprInto(l, ind.Arg, q)
	}
	for _, n := range rest {
		if ai := n.GetAIndices(); ai != nil {
			p.exprInto(l, ai.Lidx, q)
			p.exprInto(l, ai.Uidx, q)
		}
	}
}

// funcCall adds the lineage of a function call: its arguments, its
// aggregate ORDER BY and FILTER, its window; unknown unless the function
// is known to derive its result only from its arguments.
func (p *prov) funcCall(l *lin, fc *pg_query.FuncCall, q *qctx) {
	name := exactFuncName(fc.Funcname)
	if !pureFunction(name) {
		l.setUnknown("function " + name + " is not known to derive its result only from its arguments")
	}
	for _, a := range fc.Args {
		p.exprInto(l, a, q)
	}
	var pred lin
	for _, s := range fc.AggOrder {
		p.exprInto(&pred, s.GetSortBy().GetNode(), q)
	}
	p.exprInto(&pred, fc.AggFilter, q)
	if fc.Over != nil {
		pred.add(p.window(fc.Over, q, 0))
	}
	p.filters = pred.flat(p.filters)
	l.add(pred)
}

// exactFuncName returns a function name as the parse tree has it (unquoted
// identifiers are already lower case; "UPPER" is not upper), dot-joined.
func exactFuncName(names []*pg_query.Node) string {
	name := ""
	for i, n := range names {
		if i > 0 {
			name += "."
		}
		name += n.GetString_().GetSval()
	}
	return name
}

// window returns the lineage of a window definition: PARTITION BY, ORDER
// BY, frame offsets, and those of the named window it refers to.
func (p *prov) window(wd *pg_query.WindowDef, q *qctx, depth int) lin {
	var l lin
	for _, n := range wd.PartitionClause {
		p.exprInto(&l, n, q)
	}
	for _, n := range wd.OrderClause {
		p.exprInto(&l, n.GetSortBy().GetNode(), q)
	}
	p.exprInto(&l, wd.StartOffset, q)
	p.exprInto(&l, wd.EndOffset, q)
	ref := wd.Refname
	if ref == "" && len(wd.PartitionClause) == 0 && len(wd.OrderClause) == 0 {
		ref = wd.Name // OVER w
	}
	if ref == "" || depth > len(q.windows) {
		return l
	}
	found := false
	for _, n := range q.windows {
		if w := n.GetWindowDef(); w != nil && w.Name == ref && w != wd {
			l.add(p.window(w, q, depth+1))
			found = true
		}
	}
	if !found && q.windows != nil {
		for _, n := range q.windows {
			if w := n.GetWindowDef(); w != nil && w != wd {
				l.add(p.window(&pg_query.WindowDef{PartitionClause: w.PartitionClause, OrderClause: w.OrderClause}, q, depth+1))
			}
		}
	}
	return l
}

// subLink adds the lineage of a subquery expression. A scalar or ARRAY
// subquery's value derives from its output and its predicates; EXISTS from
// its predicates; IN, ANY, ALL and row comparisons are predicates on the
// tested expression and the subquery's output.
func (p *prov) subLink(l *lin, sl *pg_query.SubLink, q *qctx) {
	res := p.query(sl.Subselect, q.sc, q.env)
	var v lin
	switch sl.SubLinkType {
	case pg_query.SubLinkType_EXISTS_SUBLINK:
		v.add(res.pred)
	case pg_query.SubLinkType_EXPR_SUBLINK, pg_query.SubLinkType_ARRAY_SUBLINK,
		pg_query.SubLinkType_MULTIEXPR_SUBLINK, pg_query.SubLinkType_CTE_SUBLINK:
		v.add(allLin(res.cols))
		v.add(res.pred)
	default:
		p.exprInto(&v, sl.Testexpr, q)
		v.add(allLin(res.cols))
		v.add(res.pred)
		p.filters = v.flat(p.filters)
	}
	l.add(v)
}
