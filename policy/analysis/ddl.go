package analysis

import (
	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// statement walks a message that has no handler of its own: a statement
// gets its kinds from the static table and, when it is DDL, its target
// relations are written; every field is then walked. An unknown statement
// is utility when it is the statement itself (nested ones, such as RETURN
// in a SQL function body, add nothing of their own).
func (w *walker) statement(m protoreflect.Message, main bool) {
	k, known := staticKinds[string(m.Descriptor().Name())]
	if !known {
		if main && isStatement(m) {
			w.kinds |= kUtility
		}
		w.fields(m)
		return
	}
	w.kinds |= k
	if k&kDDL == 0 {
		w.fields(m)
		return
	}
	fds := m.Descriptor().Fields()
	for _, name := range ddlTargetFields {
		fd := fds.ByName(name)
		if fd == nil || !m.Has(fd) {
			continue
		}
		if fd.IsList() {
			l := m.Get(fd).List()
			for i := range l.Len() {
				w.writeMsg(l.Get(i).Message())
			}
		} else {
			w.writeMsg(m.Get(fd).Message())
		}
	}
	w.fields(m, ddlTargetFields...)
}

// ddlTargetFields are the fields of DDL statements that name the relation
// the statement creates, changes or removes.
var ddlTargetFields = []protoreflect.Name{"relation", "relations", "view", "sequence", "table", "inh_relations"}

// writeMsg records a written relation given as a RangeVar or a Node
// holding one; anything else is walked.
func (w *walker) writeMsg(m protoreflect.Message) {
	switch x := m.Interface().(type) {
	case *pg_query.RangeVar:
		w.write(x)
	case *pg_query.Node:
		if rv := x.GetRangeVar(); rv != nil {
			w.write(rv)
			return
		}
		w.msg(m, false)
	default:
		w.msg(m, false)
	}
}

func (w *walker) dropStmt(x *pg_query.DropStmt) {
	w.kinds |= kDDL
	switch x.RemoveType {
	case pg_query.ObjectType_OBJECT_TABLE, pg_query.ObjectType_OBJECT_VIEW,
		pg_query.ObjectType_OBJECT_MATVIEW, pg_query.ObjectType_OBJECT_FOREIGN_TABLE,
		pg_query.ObjectType_OBJECT_SEQUENCE, pg_query.ObjectType_OBJECT_INDEX:
		for _, o := range x.Objects {
			if name := qualifiedName(o.GetList().GetItems(), w.schema); name != "" {
				w.written = append(w.written, name)
			}
		}
	}
}

func (w *walker) createSchema(x *pg_query.CreateSchemaStmt) {
	w.kinds |= kDDL
	if x.Authrole != nil {
		w.kinds |= kGrant
	}
	saved := w.schema
	switch {
	case x.Schemaname != "":
		w.schema = x.Schemaname
	case x.Authrole.GetRolename() != "":
		w.schema = x.Authrole.GetRolename()
	}
	w.nodes(x.SchemaElts)
	w.schema = saved
}
