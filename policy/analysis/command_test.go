package analysis

import (
	"strings"
	"testing"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// TestEveryStatementTypeIsClassified walks an empty instance of every
// statement type pg_query knows: each must get a command tag and a kind. A
// pg_query upgrade that adds a statement type fails here until someone
// decides its tag.
func TestEveryStatementTypeIsClassified(t *testing.T) {
	// Parts of other statements (ReplicaIdentityStmt is an ALTER TABLE
	// subcommand), never a statement of their own.
	notTopLevel := map[string]bool{
		"RawStmt": true, "SetOperationStmt": true, "ReturnStmt": true, "PLAssignStmt": true, "ReplicaIdentityStmt": true,
	}
	wrappers := map[string]bool{"ExplainStmt": true, "PrepareStmt": true} // kinds come from the wrapped statement
	oneof := (&pg_query.Node{}).ProtoReflect().Descriptor().Oneofs().ByName("node")
	n := 0
	for i := range oneof.Fields().Len() {
		md := oneof.Fields().Get(i).Message()
		name := string(md.Name())
		if !strings.HasSuffix(name, "Stmt") || notTopLevel[name] {
			continue
		}
		n++
		mt, err := protoregistry.GlobalTypes.FindMessageByName(md.FullName())
		if err != nil {
			t.Fatal(err)
		}
		m := mt.New()
		if name == "TransactionStmt" {
			// Its tag depends on its kind, undefined here (see
			// TestAnalyzeTransactionsAndProcedures).
			m.Set(md.Fields().ByName("kind"), protoreflect.ValueOfEnum(protoreflect.EnumNumber(pg_query.TransactionStmtKind_TRANS_STMT_BEGIN)))
		}
		if tag := command(m); tag == "???" || tag == "" {
			t.Errorf("%s: no command tag", name)
		}
		w := walker{st: &Statement{}, schema: defaultSchema}
		w.msg(m, true)
		if w.kinds == 0 && !wrappers[name] {
			t.Errorf("%s: no kind", name)
		}
	}
	if n < 100 {
		t.Fatalf("found %d statement types, want over 100", n)
	}
}
