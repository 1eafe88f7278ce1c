package analysis

import (
	"slices"

	pg_query "github.com/pganalyze/pg_query_go/v6"
)

// fromItem analyses one FROM item. sc is the query level with the items
// before this one, which LATERAL items (and functions) may reference.
func (p *prov) fromItem(n *pg_query.Node, sc *scope, q *qctx) *fromItem {
	switch x := n.GetNode().(type) {
	case *pg_query.Node_RangeVar:
		return p.rangeVar(x.RangeVar, q)
	case *pg_query.Node_RangeSubselect:
		rs := x.RangeSubselect
		outer := sc.parent
		if rs.Lateral {
			outer = sc
		}
		res := p.query(rs.Subquery, outer, q.env)
		q.pred.add(res.pred)
		it := &fromItem{kind: itemDerived, cols: res.cols}
		if rs.Alias != nil {
			it.refname = rs.Alias.Aliasname
			it.cols, it.fuzzy = renameCols(res.cols, strList(rs.Alias.Colnames))
		}
		return it
	case *pg_query.Node_RangeFunction:
		return p.rangeFunction(x.RangeFunction, sc, q)
	case *pg_query.Node_RangeTableFunc:
		tf := x.RangeTableFunc
		it := &fromItem{kind: itemFunc, lin: p.itemExprs(n, sc, q)}
		for _, c := range tf.Columns {
			if rc := c.GetRangeTableFuncCol(); rc != nil {
				it.names = append(it.names, rc.Colname)
			}
		}
		if tf.Alias != nil {
			it.refname = tf.Alias.Aliasname
			it.names = nil // may rename the columns
		}
		return it
	case *pg_query.Node_JsonTable:
		it := &fromItem{kind: itemFunc, lin: p.itemExprs(n, sc, q)}
		if x.JsonTable.Alias != nil {
			it.refname = x.JsonTable.Alias.Aliasname
		}
		return it
	case *pg_query.Node_RangeTableSample:
		ts := x.RangeTableSample
		it := p.fromItem(ts.Relation, sc, q)
		qq := &qctx{sc: sc, env: q.env, pred: q.pred}
		for _, a := range ts.Args {
			p.predicate(qq, p.expr(a, qq))
		}
		p.predicate(qq, p.expr(ts.Repeatable, qq))
		return it
	case *pg_query.Node_JoinExpr:
		return p.join(x.JoinExpr, sc, q)
	}
	p.generic(n)
	return &fromItem{kind: itemFunc, lin: lin{unknown: "FROM item of an unexpected form"}}
}

// itemExprs returns the lineage of every expression of a table function
// (XMLTABLE, JSON_TABLE), evaluated where LATERAL references are allowed.
func (p *prov) itemExprs(n *pg_query.Node, sc *scope, q *qctx) lin {
	qq := &qctx{sc: sc, env: q.env, pred: q.pred}
	var l lin
	p.exprFields(&l, innerMessage(n.ProtoReflect()), qq)
	return l
}

// rangeVar is a relation, or a CTE when unqualified and a CTE of that name
// is in scope.
func (p *prov) rangeVar(rv *pg_query.RangeVar, q *qctx) *fromItem {
	if rv.Schemaname == "" && rv.Catalogname == "" {
		if d := q.env.find(rv.Relname); d != nil {
			q.pred.add(d.pred)
			it := &fromItem{kind: itemDerived, refname: rv.Relname}
			it.cols = make([]outCol, len(d.cols))
			for i, c := range d.cols {
				it.cols[i] = cloneCol(c)
			}
			if rv.Alias != nil {
				it.refname = rv.Alias.Aliasname
				it.cols, it.fuzzy = renameCols(it.cols, strList(rv.Alias.Colnames))
			}
			return it
		}
	}
	return p.relItem(rv)
}

// relItem is a relation named in FROM or as a statement's target.
func (p *prov) relItem(rv *pg_query.RangeVar) *fromItem {
	if rv == nil {
		return &fromItem{kind: itemFunc, lin: lin{unknown: "statement without a relation"}}
	}
	table := relName(rv, p.schema)
	schema, relname := splitRel(table)
	it := &fromItem{kind: itemRel, refname: rv.Relname, table: table, schema: schema, relname: relname}
	if rv.Alias != nil {
		it.refname, it.aliased = rv.Alias.Aliasname, true
		it.colAliases = strList(rv.Alias.Colnames)
	}
	return it
}

// rangeFunction is a function (or ROWS FROM) in FROM. Every column derives
// from the functions' arguments, or is unknown when a function is not
// known to derive its result from its arguments only.
func (p *prov) rangeFunction(rf *pg_query.RangeFunction, sc *scope, q *qctx) *fromItem {
	qq := &qctx{sc: sc, env: q.env, pred: q.pred}
	it := &fromItem{kind: itemFunc}
	defs := len(rf.Coldeflist) > 0
	for _, f := range rf.Functions {
		items := f.GetList().GetItems()
		if len(items) == 0 {
			continue
		}
		p.exprInto(&it.lin, items[0], qq)
		if fc := items[0].GetFuncCall(); fc != nil && len(fc.Funcname) > 0 && len(rf.Functions) == 1 && !rf.IsRowsfrom {
			it.refname = fc.Funcname[len(fc.Funcname)-1].GetString_().GetSval()
		}
		if len(items) > 1 && len(items[1].GetList().GetItems()) > 0 {
			defs = true
		}
	}
	if defs {
		// A column definition list names every column.
		for _, n := range rf.Coldeflist {
			it.names = append(it.names, n.GetColumnDef().GetColname())
		}
		for _, f := range rf.Functions {
			if items := f.GetList().GetItems(); len(items) > 1 {
				for _, n := range items[1].GetList().GetItems() {
					it.names = append(it.names, n.GetColumnDef().GetColname())
				}
			}
		}
		if rf.Ordinality {
			it.names = append(it.names, "ordinality")
		}
	}
	if rf.Alias != nil {
		it.refname = rf.Alias.Aliasname
		if cn := strList(rf.Alias.Colnames); len(cn) > 0 {
			if defs {
				for i, c := range cn {
					if i < len(it.names) {
						it.names[i] = c
					}
				}
			} else {
				it.names = nil
			}
		}
	}
	return it
}

// join analyses JOIN: the right side's LATERAL items see the left side and
// the items before the join; ON sees both sides (and outer levels); USING
// compares the named column of both sides.
func (p *prov) join(j *pg_query.JoinExpr, sc *scope, q *qctx) *fromItem {
	left := p.fromItem(j.Larg, sc, q)
	rsc := &scope{parent: sc.parent, items: append(slices.Clone(sc.items), left)}
	right := p.fromItem(j.Rarg, rsc, q)
	it := &fromItem{kind: itemJoin, left: left, right: right, using: strList(j.UsingClause), natural: j.IsNatural}
	if j.Alias != nil {
		it.refname = j.Alias.Aliasname
		it.colAliases = strList(j.Alias.Colnames)
		if it.colAliases == nil {
			it.colAliases = []string{}
		}
	}
	if j.JoinUsingAlias != nil {
		it.usingAlias = j.JoinUsingAlias.Aliasname
	}
	jq := &qctx{sc: &scope{parent: sc.parent, items: []*fromItem{it}}, env: q.env, pred: q.pred}
	if j.Quals != nil {
		p.predicate(jq, p.expr(j.Quals, jq))
	}
	for _, u := range it.using {
		m := left.lookup(u)
		m.merge(right.lookup(u))
		p.predicate(jq, m.lin)
	}
	if it.natural {
		// The compared columns are the common ones, unknown here.
		l := left.whole()
		l.add(right.whole())
		p.predicate(jq, l)
	}
	return it
}
