package analysis

import (
	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// with walks the CTEs of wc and brings their names into scope. It returns
// the scope to restore (w.ctes = w.ctes[:base]) after the statement body.
// Without RECURSIVE a CTE sees only the CTEs before it, so a later CTE's
// name there still means a table.
func (w *walker) with(wc *pg_query.WithClause) (base int) {
	base = len(w.ctes)
	if wc == nil {
		return base
	}
	if wc.Recursive {
		for _, n := range wc.Ctes {
			if c := n.GetCommonTableExpr(); c != nil {
				w.ctes = append(w.ctes, c.Ctename)
			}
		}
	}
	for _, n := range wc.Ctes {
		c := n.GetCommonTableExpr()
		if c == nil {
			continue
		}
		w.node(c.Ctequery, false)
		if !wc.Recursive {
			w.ctes = append(w.ctes, c.Ctename)
		}
	}
	return base
}

func (w *walker) selectStmt(x *pg_query.SelectStmt, main bool) {
	switch {
	case x.IntoClause != nil:
		// SELECT INTO creates a table and fills it.
		w.kinds |= kDDL | kInsert
		w.write(x.IntoClause.Rel)
	case main:
		w.kinds |= kSelect
	}
	base := w.with(x.WithClause)
	w.fields(x.ProtoReflect(), "with_clause", "into_clause")
	w.ctes = w.ctes[:base]
}

func (w *walker) insertStmt(x *pg_query.InsertStmt) {
	w.kinds |= kInsert
	base := w.with(x.WithClause)
	w.write(x.Relation)
	if oc := x.OnConflictClause; oc != nil {
		// The conflict check reads the target; DO UPDATE updates it.
		w.readTarget(x.Relation)
		if oc.Action == pg_query.OnConflictAction_ONCONFLICT_UPDATE {
			w.kinds |= kUpdate
		}
	}
	w.fields(x.ProtoReflect(), "with_clause", "relation")
	w.ctes = w.ctes[:base]
}

func (w *walker) updateStmt(x *pg_query.UpdateStmt) {
	w.kinds |= kUpdate
	base := w.with(x.WithClause)
	w.write(x.Relation)
	if x.WhereClause != nil || len(x.ReturningList) > 0 {
		w.readTarget(x.Relation)
	}
	if !filters(x.WhereClause) {
		w.st.UnfilteredWrite = true
	}
	w.fields(x.ProtoReflect(), "with_clause", "relation")
	w.ctes = w.ctes[:base]
}

func (w *walker) deleteStmt(x *pg_query.DeleteStmt) {
	w.kinds |= kDelete
	base := w.with(x.WithClause)
	w.write(x.Relation)
	if x.WhereClause != nil || len(x.ReturningList) > 0 {
		w.readTarget(x.Relation)
	}
	if !filters(x.WhereClause) {
		w.st.UnfilteredWrite = true
	}
	w.fields(x.ProtoReflect(), "with_clause", "relation")
	w.ctes = w.ctes[:base]
}

// mergeStmt: MERGE reads its target (the join) and its source, and has the
// kinds of its actions as well as "merge".
func (w *walker) mergeStmt(x *pg_query.MergeStmt) {
	w.kinds |= kMerge
	base := w.with(x.WithClause)
	w.write(x.Relation)
	w.readTarget(x.Relation)
	for _, n := range x.MergeWhenClauses {
		switch n.GetMergeWhenClause().GetCommandType() {
		case pg_query.CmdType_CMD_INSERT:
			w.kinds |= kInsert
		case pg_query.CmdType_CMD_UPDATE:
			w.kinds |= kUpdate
		case pg_query.CmdType_CMD_DELETE:
			w.kinds |= kDelete
		}
	}
	w.fields(x.ProtoReflect(), "with_clause", "relation")
	w.ctes = w.ctes[:base]
}

// createTableAs: CREATE TABLE AS, CREATE MATERIALIZED VIEW and SELECT INTO
// create a relation and fill it from a query, whose SELECT only reads.
func (w *walker) createTableAs(x *pg_query.CreateTableAsStmt) {
	w.kinds |= kDDL | kInsert
	w.write(x.GetInto().GetRel())
	w.node(x.Query, false)
}

// filters reports whether a WHERE clause can restrict the rows a write
// touches: it references a column (anywhere, subqueries included) or is
// WHERE CURRENT OF. WHERE true, WHERE 1=1 and WHERE $1 do not.
func filters(where *pg_query.Node) bool {
	return where != nil && hasColumn(where.ProtoReflect())
}

func hasColumn(m protoreflect.Message) bool {
	switch m.Interface().(type) {
	case *pg_query.ColumnRef, *pg_query.CurrentOfExpr:
		return true
	}
	found := false
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Message() == nil || fd.IsMap() {
			return true
		}
		if fd.IsList() {
			l := v.List()
			for i := 0; i < l.Len() && !found; i++ {
				found = hasColumn(l.Get(i).Message())
			}
		} else {
			found = hasColumn(v.Message())
		}
		return !found
	})
	return found
}
