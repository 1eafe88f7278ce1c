package analysis

import (
	"slices"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// provenance fills st's Output, Filters, Copied, Declare, Fetch and
// ExecuteArgs from the statement's tree. It runs after the walker (EXPLAIN
// uses TablesRead).
func provenance(st *Statement, n *pg_query.Node) {
	p := newProv(defaultSchema)
	cols := p.top(n, st)
	st.Output = p.finishOutput(cols)
	if p.over {
		p.filters = append(p.filters, Unknown)
		p.copied = append(p.copied, Unknown)
		for i := range st.ExecuteArgs {
			st.ExecuteArgs[i] = OutputColumn{Unknown: true, Why: tooComplex}
		}
	}
	st.Filters = set(p.filters)
	st.Copied = set(p.copied)
}

// finishOutput converts output entries to their exported form; never nil.
func (p *prov) finishOutput(cols []outCol) []OutputColumn {
	if p.over {
		return []OutputColumn{{Many: true, Unknown: true, Why: tooComplex}}
	}
	out := make([]OutputColumn, len(cols))
	for i := range cols {
		out[i] = cols[i].public()
	}
	return out
}

// top returns the output of a statement (the statement EXPLAIN, PREPARE,
// DECLARE or COPY wraps has its own).
func (p *prov) top(n *pg_query.Node, st *Statement) []outCol {
	switch x := n.GetNode().(type) {
	case *pg_query.Node_SelectStmt:
		res := p.selectStmt(x.SelectStmt, nil, nil)
		if hasInto(x.SelectStmt) {
			p.copied = allLin(res.cols).flat(p.copied)
			return nil
		}
		return res.cols
	case *pg_query.Node_InsertStmt, *pg_query.Node_UpdateStmt, *pg_query.Node_DeleteStmt, *pg_query.Node_MergeStmt:
		return p.query(n, nil, nil).cols
	case *pg_query.Node_ExplainStmt:
		// The plan is text about the statement's relations.
		var inner Statement
		p.top(x.ExplainStmt.Query, &inner)
		l := lin{whole: slices.Clone(st.TablesRead)}
		if x.ExplainStmt.Query.GetExecuteStmt() != nil {
			l.unknown = "EXPLAIN EXECUTE: the prepared statement's relations are not known here"
		}
		return []outCol{{name: "QUERY PLAN", named: true, lin: l}}
	case *pg_query.Node_PrepareStmt:
		return p.top(x.PrepareStmt.Query, st)
	case *pg_query.Node_DeclareCursorStmt:
		st.Declare = x.DeclareCursorStmt.Portalname
		return p.top(x.DeclareCursorStmt.Query, st)
	case *pg_query.Node_FetchStmt:
		st.Fetch = x.FetchStmt.Portalname
		return nil
	case *pg_query.Node_ExecuteStmt:
		q := &qctx{sc: &scope{}, pred: &lin{}}
		st.ExecuteArgs = make([]OutputColumn, 0, len(x.ExecuteStmt.Params))
		for _, a := range x.ExecuteStmt.Params {
			c := outCol{lin: p.expr(a, q)}
			// The prepared statement may compare its parameters.
			p.filters = c.lin.flat(p.filters)
			st.ExecuteArgs = append(st.ExecuteArgs, c.public())
		}
		if len(st.ExecuteArgs) == 0 {
			st.ExecuteArgs = nil
		}
		return nil
	case *pg_query.Node_CopyStmt:
		return p.copyOutput(x.CopyStmt, st)
	case *pg_query.Node_VariableShowStmt:
		if lower(x.VariableShowStmt.Name) == "all" {
			return []outCol{{name: "name", named: true}, {name: "setting", named: true}, {name: "description", named: true}}
		}
		return []outCol{{}}
	case *pg_query.Node_CallStmt:
		q := &qctx{sc: &scope{}, pred: &lin{}}
		if fc := x.CallStmt.Funccall; fc != nil {
			for _, a := range fc.Args {
				p.expr(a, q)
			}
		}
		return []outCol{{many: true, lin: lin{unknown: "CALL: a procedure's output parameters"}}}
	case *pg_query.Node_CreateTableAsStmt:
		if ex := x.CreateTableAsStmt.Query.GetExecuteStmt(); ex != nil {
			var inner Statement
			p.top(x.CreateTableAsStmt.Query, &inner)
			p.copied = append(p.copied, Unknown)
			return nil
		}
		res := p.query(x.CreateTableAsStmt.Query, nil, nil)
		p.copied = allLin(res.cols).flat(p.copied)
		return nil
	case *pg_query.Node_ViewStmt:
		// Creating a view returns nothing, but a predicate in it is a
		// probe that later SELECTs from the view no longer show.
		p.query(x.ViewStmt.Query, nil, nil)
		return nil
	}
	p.generic(n)
	return nil
}

// copyOutput: COPY t TO returns every column of t (or the listed ones);
// COPY (query) TO the query's output. No RowDescription: nothing is Direct.
func (p *prov) copyOutput(x *pg_query.CopyStmt, st *Statement) []outCol {
	if x.IsFrom {
		return nil
	}
	if x.Query != nil {
		cols := p.top(x.Query, st)
		for i := range cols {
			cols[i].direct = false
		}
		return cols
	}
	if x.Relation == nil {
		return nil
	}
	table := relName(x.Relation, p.schema)
	if len(x.Attlist) == 0 {
		return []outCol{{star: &StarRef{Table: table}}}
	}
	cols := make([]outCol, 0, len(x.Attlist))
	for _, name := range strList(x.Attlist) {
		cols = append(cols, outCol{name: name, named: true, lin: lin{cols: []string{colRef(table, name)}}})
	}
	return cols
}

// generic looks for queries anywhere in a statement without a handler of
// its own (DDL, rules, SQL function bodies) and records their predicates.
func (p *prov) generic(n *pg_query.Node) {
	if n != nil {
		p.genericMsg(n.ProtoReflect())
	}
}

func (p *prov) genericMsg(m protoreflect.Message) {
	if !m.IsValid() || !p.step() {
		return
	}
	if x, ok := m.Interface().(*pg_query.Node); ok {
		switch x.Node.(type) {
		case *pg_query.Node_SelectStmt, *pg_query.Node_InsertStmt, *pg_query.Node_UpdateStmt,
			*pg_query.Node_DeleteStmt, *pg_query.Node_MergeStmt:
			p.query(x, nil, nil)
			return
		}
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Message() == nil || fd.IsMap() {
			return true
		}
		if fd.IsList() {
			l := v.List()
			for i := range l.Len() {
				p.genericMsg(l.Get(i).Message())
			}
			return true
		}
		p.genericMsg(v.Message())
		return true
	})
}
