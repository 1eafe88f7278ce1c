package analysis

import pg_query "github.com/pganalyze/pg_query_go/v6"

// The provenance of data-modifying statements. Their output is RETURNING,
// in which the target's columns hold the values after the write: each
// derives from itself and, conservatively, from every value the statement
// writes (a trigger may move any of them anywhere). The written values are
// Copied; WHERE, ON, MERGE conditions and ON CONFLICT's arbiter are
// predicates.

func (p *prov) insertStmt(x *pg_query.InsertStmt, outer *scope, env *cteEnv) result {
	var res result
	env = p.with(x.WithClause, outer, env)
	var src lin
	if x.SelectStmt != nil {
		r := p.query(x.SelectStmt, outer, env)
		res.pred.add(r.pred)
		src = allLin(r.cols)
	}
	p.copied = src.flat(p.copied)
	target := p.relItem(x.Relation)
	if oc := x.OnConflictClause; oc != nil {
		excluded := &fromItem{kind: itemFunc, refname: "excluded", lin: src.clone(), hidden: true}
		q := &qctx{sc: &scope{parent: outer, items: []*fromItem{target, excluded}}, env: env, pred: &res.pred}
		if oc.Infer != nil {
			var l lin
			p.exprFields(&l, oc.Infer.ProtoReflect(), q)
			p.predicate(q, l)
		}
		var set lin
		for _, n := range oc.TargetList {
			set.add(p.assignment(n.GetResTarget(), q))
		}
		p.copied = set.flat(p.copied)
		if oc.WhereClause != nil {
			p.predicate(q, p.expr(oc.WhereClause, q))
		}
		src.add(set)
	}
	res.cols = p.returning(x.ReturningList, target, src, []*fromItem{target}, outer, env, &res.pred)
	return res
}

func (p *prov) updateStmt(x *pg_query.UpdateStmt, outer *scope, env *cteEnv) result {
	var res result
	env = p.with(x.WithClause, outer, env)
	target := p.relItem(x.Relation)
	q := &qctx{sc: &scope{parent: outer, items: []*fromItem{target}}, env: env, pred: &res.pred}
	for _, n := range x.FromClause {
		q.sc.items = append(q.sc.items, p.fromItem(n, q.sc, q))
	}
	var set lin
	for _, n := range x.TargetList {
		set.add(p.assignment(n.GetResTarget(), q))
	}
	p.copied = set.flat(p.copied)
	if x.WhereClause != nil {
		p.predicate(q, p.expr(x.WhereClause, q))
	}
	res.cols = p.returning(x.ReturningList, target, set, q.sc.items, outer, env, &res.pred)
	return res
}

func (p *prov) deleteStmt(x *pg_query.DeleteStmt, outer *scope, env *cteEnv) result {
	var res result
	env = p.with(x.WithClause, outer, env)
	target := p.relItem(x.Relation)
	q := &qctx{sc: &scope{parent: outer, items: []*fromItem{target}}, env: env, pred: &res.pred}
	for _, n := range x.UsingClause {
		q.sc.items = append(q.sc.items, p.fromItem(n, q.sc, q))
	}
	if x.WhereClause != nil {
		p.predicate(q, p.expr(x.WhereClause, q))
	}
	res.cols = p.returning(x.ReturningList, target, lin{}, q.sc.items, outer, env, &res.pred)
	return res
}

func (p *prov) mergeStmt(x *pg_query.MergeStmt, outer *scope, env *cteEnv) result {
	var res result
	env = p.with(x.WithClause, outer, env)
	target := p.relItem(x.Relation)
	q := &qctx{sc: &scope{parent: outer, items: []*fromItem{target}}, env: env, pred: &res.pred}
	if x.SourceRelation != nil {
		src := p.fromItem(x.SourceRelation, &scope{parent: outer}, q)
		q.sc.items = append(q.sc.items, src)
	}
	if x.JoinCondition != nil {
		p.predicate(q, p.expr(x.JoinCondition, q))
	}
	var moved lin
	for _, n := range x.MergeWhenClauses {
		wc := n.GetMergeWhenClause()
		if wc == nil {
			continue
		}
		if wc.Condition != nil {
			p.predicate(q, p.expr(wc.Condition, q))
		}
		for _, t := range wc.TargetList {
			moved.add(p.assignment(t.GetResTarget(), q))
		}
		for _, v := range wc.Values {
			p.exprInto(&moved, v, q)
		}
	}
	p.copied = moved.flat(p.copied)
	res.cols = p.returning(x.ReturningList, target, moved, q.sc.items, outer, env, &res.pred)
	return res
}

// assignment returns the lineage of SET col[i] = value.
func (p *prov) assignment(rt *pg_query.ResTarget, q *qctx) lin {
	if rt == nil {
		return lin{}
	}
	l := p.expr(rt.Val, q)
	for _, n := range rt.Indirection {
		if ai := n.GetAIndices(); ai != nil {
			p.exprInto(&l, ai.Lidx, q)
			p.exprInto(&l, ai.Uidx, q)
		}
	}
	return l
}

// returning analyses a RETURNING list over items, in which the target's
// columns also derive from written.
func (p *prov) returning(list []*pg_query.Node, target *fromItem, written lin, items []*fromItem,
	outer *scope, env *cteEnv, pred *lin) []outCol {
	if len(list) == 0 {
		return nil
	}
	after := *target
	after.extra = written.clone()
	sc := &scope{parent: outer}
	for _, it := range items {
		if it == target {
			it = &after
		}
		sc.items = append(sc.items, it)
	}
	q := &qctx{sc: sc, env: env, pred: pred}
	var cols []outCol
	for _, n := range list {
		cols = append(cols, p.target(n.GetResTarget(), q)...)
	}
	return cols
}
