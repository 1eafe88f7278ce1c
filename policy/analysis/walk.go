package analysis

import (
	"slices"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// walker collects the analysis of one statement. It visits every message of
// the tree (a generic protoreflect walk); the types listed in msg get
// handlers where the context matters, everything else is walked field by
// field.
type walker struct {
	st       *Statement
	text     string // the statement's text, for COPY's file name check
	scs      bool
	kinds    kindSet
	read     []string
	written  []string
	funcs    []string
	settings []string
	// ctes are the names of the common table expressions in scope: an
	// unqualified relation reference with one of these names is not a table.
	ctes []string
	// schema qualifies unqualified relation names.
	schema string
}

// node walks n. main is true when n is the statement itself (or the
// statement an EXPLAIN, PREPARE, DECLARE or COPY wraps): only then does a
// SELECT make the statement a "select".
func (w *walker) node(n *pg_query.Node, main bool) {
	if n != nil {
		w.msg(n.ProtoReflect(), main)
	}
}

func (w *walker) nodes(ns []*pg_query.Node) {
	for _, n := range ns {
		w.node(n, false)
	}
}

// msg walks one message.
func (w *walker) msg(m protoreflect.Message, main bool) {
	if !m.IsValid() {
		return
	}
	switch x := m.Interface().(type) {
	case *pg_query.Node:
		m.Range(func(_ protoreflect.FieldDescriptor, v protoreflect.Value) bool {
			w.msg(v.Message(), main)
			return false
		})
	case *pg_query.RangeVar:
		w.rangeRead(x)
	case *pg_query.FuncCall:
		name := funcName(x.Funcname)
		w.funcs = append(w.funcs, name)
		if isRoleFunction(name) {
			w.kinds |= kRoleChange
		}
		w.fields(m)
	case *pg_query.LockingClause:
		// FOR UPDATE OF x names FROM items, not tables.
	case *pg_query.SelectStmt:
		w.selectStmt(x, main)
	case *pg_query.InsertStmt:
		w.insertStmt(x)
	case *pg_query.UpdateStmt:
		w.updateStmt(x)
	case *pg_query.DeleteStmt:
		w.deleteStmt(x)
	case *pg_query.MergeStmt:
		w.mergeStmt(x)
	case *pg_query.CreateTableAsStmt:
		w.createTableAs(x)
	case *pg_query.CopyStmt:
		w.copyStmt(x)
	case *pg_query.ExplainStmt:
		w.st.Explain = true
		for _, o := range x.Options {
			// Any ANALYZE option counts, whatever its argument: the
			// argument can be a constant (ANALYZE 0, ANALYZE 'off').
			if o.GetDefElem().GetDefname() == "analyze" {
				w.st.ExplainAnalyze = true
			}
		}
		w.node(x.Query, true)
	case *pg_query.PrepareStmt:
		w.st.Prepare = x.Name
		w.node(x.Query, true)
	case *pg_query.DeclareCursorStmt:
		w.kinds |= kUtility
		w.node(x.Query, true)
	case *pg_query.ExecuteStmt:
		w.kinds |= kUtility
		w.st.Execute = x.Name
		w.nodes(x.Params)
	case *pg_query.DeallocateStmt:
		w.kinds |= kUtility
		w.st.Deallocate = x.Name
		if x.Isall || x.Name == "" {
			w.st.Deallocate = "*"
		}
	case *pg_query.VariableSetStmt:
		w.variableSet(x, main)
	case *pg_query.VariableShowStmt:
		w.kinds |= kSet
		w.settings = append(w.settings, lower(x.Name))
	case *pg_query.DiscardStmt:
		if x.Target == pg_query.DiscardMode_DISCARD_ALL {
			// DISCARD ALL includes RESET ALL and SET SESSION
			// AUTHORIZATION DEFAULT.
			w.kinds |= kRoleChange
			w.settings = append(w.settings, "all")
		} else {
			w.kinds |= kUtility
		}
	case *pg_query.TruncateStmt:
		w.st.UnfilteredWrite = true
		w.statement(m, main)
	case *pg_query.DropStmt:
		w.dropStmt(x)
	case *pg_query.AlterTableCmd:
		switch x.Subtype {
		case pg_query.AlterTableType_AT_ChangeOwner,
			pg_query.AlterTableType_AT_EnableRowSecurity,
			pg_query.AlterTableType_AT_DisableRowSecurity,
			pg_query.AlterTableType_AT_ForceRowSecurity,
			pg_query.AlterTableType_AT_NoForceRowSecurity:
			w.kinds |= kGrant
		}
		w.fields(m)
	case *pg_query.PartitionCmd:
		// ATTACH/DETACH PARTITION changes what the parent contains.
		w.write(x.Name)
		w.fields(m, "name")
	case *pg_query.CreateSchemaStmt:
		w.createSchema(x)
	default:
		w.statement(m, main)
	}
}

// fields walks every populated message field of m except those in skip.
func (w *walker) fields(m protoreflect.Message, skip ...protoreflect.Name) {
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Message() == nil || fd.IsMap() || slices.Contains(skip, fd.Name()) {
			return true
		}
		if fd.IsList() {
			l := v.List()
			for i := range l.Len() {
				w.msg(l.Get(i).Message(), false)
			}
			return true
		}
		w.msg(v.Message(), false)
		return true
	})
}

// rangeRead records a relation read, unless it names a CTE in scope.
func (w *walker) rangeRead(rv *pg_query.RangeVar) {
	if rv.Schemaname == "" && rv.Catalogname == "" && slices.Contains(w.ctes, rv.Relname) {
		return
	}
	w.read = append(w.read, relName(rv, w.schema))
}

// write records a written relation. Targets of writes are never CTEs.
func (w *walker) write(rv *pg_query.RangeVar) {
	if rv != nil {
		w.written = append(w.written, relName(rv, w.schema))
	}
}

// readTarget records that a write target is also read.
func (w *walker) readTarget(rv *pg_query.RangeVar) {
	if rv != nil {
		w.read = append(w.read, relName(rv, w.schema))
	}
}

func (w *walker) variableSet(x *pg_query.VariableSetStmt, main bool) {
	name := lower(x.Name)
	if x.Kind == pg_query.VariableSetKind_VAR_RESET_ALL {
		name = "all"
	}
	w.settings = append(w.settings, name)
	if !main {
		// SET inside ALTER SYSTEM, ALTER ROLE/DATABASE, CREATE FUNCTION:
		// that statement's own kind applies.
		return
	}
	if name == "all" || roleSettings[name] {
		w.kinds |= kRoleChange
	} else {
		w.kinds |= kSet
	}
}

// innerMessage returns the message a Node holds, or nil.
func innerMessage(node protoreflect.Message) protoreflect.Message {
	var inner protoreflect.Message
	if node.IsValid() {
		node.Range(func(_ protoreflect.FieldDescriptor, v protoreflect.Value) bool {
			inner = v.Message()
			return false
		})
	}
	return inner
}
