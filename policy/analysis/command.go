package analysis

import (
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// staticKinds gives the kinds of each statement type whose kinds do not
// depend on its contents (the walker adds the kinds of what it contains).
// A message whose name ends in "Stmt" and is not listed here, and has no
// handler in walker.msg, is "utility".
//
// DDL is what creates, changes or removes a schema object or its
// definition (CREATE/ALTER/DROP/COMMENT/SECURITY LABEL/RENAME, TRUNCATE,
// REFRESH MATERIALIZED VIEW, ALTER SYSTEM). Statements that also change who
// may do what (roles, ownership, policies, user mappings) are DDL and
// grant. Maintenance and session commands (VACUUM, ANALYZE, CLUSTER,
// REINDEX, CHECKPOINT, LOAD, LISTEN/NOTIFY, cursors, LOCK, SET
// CONSTRAINTS, EXECUTE, DEALLOCATE) are utility.
var staticKinds = map[string]kindSet{
	"AlterCollationStmt":           kDDL,
	"AlterDatabaseRefreshCollStmt": kDDL,
	"AlterDatabaseSetStmt":         kDDL,
	"AlterDatabaseStmt":            kDDL,
	"AlterDefaultPrivilegesStmt":   kGrant,
	"AlterDomainStmt":              kDDL,
	"AlterEnumStmt":                kDDL,
	"AlterEventTrigStmt":           kDDL,
	"AlterExtensionContentsStmt":   kDDL,
	"AlterExtensionStmt":           kDDL,
	"AlterFdwStmt":                 kDDL,
	"AlterForeignServerStmt":       kDDL,
	"AlterFunctionStmt":            kDDL,
	"AlterObjectDependsStmt":       kDDL,
	"AlterObjectSchemaStmt":        kDDL,
	"AlterOpFamilyStmt":            kDDL,
	"AlterOperatorStmt":            kDDL,
	"AlterOwnerStmt":               kDDL | kGrant,
	"AlterPolicyStmt":              kDDL | kGrant,
	"AlterPublicationStmt":         kDDL,
	"AlterRoleSetStmt":             kDDL | kGrant,
	"AlterRoleStmt":                kDDL | kGrant,
	"AlterSeqStmt":                 kDDL,
	"AlterStatsStmt":               kDDL,
	"AlterSubscriptionStmt":        kDDL,
	"AlterSystemStmt":              kDDL,
	"AlterTSConfigurationStmt":     kDDL,
	"AlterTSDictionaryStmt":        kDDL,
	"AlterTableMoveAllStmt":        kDDL,
	"AlterTableSpaceOptionsStmt":   kDDL,
	"AlterTableStmt":               kDDL,
	"AlterTypeStmt":                kDDL,
	"AlterUserMappingStmt":         kDDL | kGrant,
	"CallStmt":                     kProcedural,
	"CheckPointStmt":               kUtility,
	"ClosePortalStmt":              kUtility,
	"ClusterStmt":                  kUtility,
	"CommentStmt":                  kDDL,
	"CompositeTypeStmt":            kDDL,
	"ConstraintsSetStmt":           kUtility,
	"CreateAmStmt":                 kDDL,
	"CreateCastStmt":               kDDL,
	"CreateConversionStmt":         kDDL,
	"CreateDomainStmt":             kDDL,
	"CreateEnumStmt":               kDDL,
	"CreateEventTrigStmt":          kDDL,
	"CreateExtensionStmt":          kDDL,
	"CreateFdwStmt":                kDDL,
	"CreateForeignServerStmt":      kDDL,
	"CreateForeignTableStmt":       kDDL,
	"CreateFunctionStmt":           kDDL,
	"CreateOpClassStmt":            kDDL,
	"CreateOpFamilyStmt":           kDDL,
	"CreatePLangStmt":              kDDL,
	"CreatePolicyStmt":             kDDL | kGrant,
	"CreatePublicationStmt":        kDDL,
	"CreateRangeStmt":              kDDL,
	"CreateRoleStmt":               kDDL | kGrant,
	"CreateSeqStmt":                kDDL,
	"CreateStatsStmt":              kDDL,
	"CreateStmt":                   kDDL,
	"CreateSubscriptionStmt":       kDDL,
	"CreateTableSpaceStmt":         kDDL,
	"CreateTransformStmt":          kDDL,
	"CreateTrigStmt":               kDDL,
	"CreateUserMappingStmt":        kDDL | kGrant,
	"CreatedbStmt":                 kDDL,
	"DefineStmt":                   kDDL,
	"DoStmt":                       kProcedural,
	"DropOwnedStmt":                kDDL | kGrant,
	"DropRoleStmt":                 kDDL | kGrant,
	"DropSubscriptionStmt":         kDDL,
	"DropTableSpaceStmt":           kDDL,
	"DropUserMappingStmt":          kDDL | kGrant,
	"DropdbStmt":                   kDDL,
	"FetchStmt":                    kUtility,
	"GrantRoleStmt":                kGrant,
	"GrantStmt":                    kGrant,
	"ImportForeignSchemaStmt":      kDDL,
	"IndexStmt":                    kDDL,
	"ListenStmt":                   kUtility,
	"LoadStmt":                     kUtility,
	"LockStmt":                     kUtility,
	"NotifyStmt":                   kUtility,
	"ReassignOwnedStmt":            kDDL | kGrant,
	"RefreshMatViewStmt":           kDDL,
	"ReindexStmt":                  kUtility,
	"RenameStmt":                   kDDL,
	"ReplicaIdentityStmt":          kDDL,
	"RuleStmt":                     kDDL,
	"SecLabelStmt":                 kDDL | kGrant,
	"TransactionStmt":              kTransaction,
	"TruncateStmt":                 kDDL | kDelete,
	"UnlistenStmt":                 kUtility,
	"VacuumStmt":                   kUtility,
	"ViewStmt":                     kDDL,
}

// isStatement reports whether m is a statement message (its kinds are then
// at least utility).
func isStatement(m protoreflect.Message) bool {
	return strings.HasSuffix(string(m.Descriptor().Name()), "Stmt")
}

// staticTags gives the command tag of statements whose tag is fixed.
var staticTags = map[string]string{
	"AlterCollationStmt":           "ALTER COLLATION",
	"AlterDatabaseRefreshCollStmt": "ALTER DATABASE",
	"AlterDatabaseSetStmt":         "ALTER DATABASE",
	"AlterDatabaseStmt":            "ALTER DATABASE",
	"AlterDefaultPrivilegesStmt":   "ALTER DEFAULT PRIVILEGES",
	"AlterDomainStmt":              "ALTER DOMAIN",
	"AlterEnumStmt":                "ALTER TYPE",
	"AlterEventTrigStmt":           "ALTER EVENT TRIGGER",
	"AlterExtensionContentsStmt":   "ALTER EXTENSION",
	"AlterExtensionStmt":           "ALTER EXTENSION",
	"AlterFdwStmt":                 "ALTER FOREIGN DATA WRAPPER",
	"AlterForeignServerStmt":       "ALTER SERVER",
	"AlterOpFamilyStmt":            "ALTER OPERATOR FAMILY",
	"AlterOperatorStmt":            "ALTER OPERATOR",
	"AlterPolicyStmt":              "ALTER POLICY",
	"AlterPublicationStmt":         "ALTER PUBLICATION",
	"AlterRoleSetStmt":             "ALTER ROLE",
	"AlterRoleStmt":                "ALTER ROLE",
	"AlterSeqStmt":                 "ALTER SEQUENCE",
	"AlterStatsStmt":               "ALTER STATISTICS",
	"AlterSubscriptionStmt":        "ALTER SUBSCRIPTION",
	"AlterSystemStmt":              "ALTER SYSTEM",
	"AlterTSConfigurationStmt":     "ALTER TEXT SEARCH CONFIGURATION",
	"AlterTSDictionaryStmt":        "ALTER TEXT SEARCH DICTIONARY",
	"AlterTableSpaceOptionsStmt":   "ALTER TABLESPACE",
	"AlterTypeStmt":                "ALTER TYPE",
	"AlterUserMappingStmt":         "ALTER USER MAPPING",
	"CallStmt":                     "CALL",
	"CheckPointStmt":               "CHECKPOINT",
	"ClusterStmt":                  "CLUSTER",
	"CommentStmt":                  "COMMENT",
	"CompositeTypeStmt":            "CREATE TYPE",
	"ConstraintsSetStmt":           "SET CONSTRAINTS",
	"CopyStmt":                     "COPY",
	"CreateAmStmt":                 "CREATE ACCESS METHOD",
	"CreateCastStmt":               "CREATE CAST",
	"CreateConversionStmt":         "CREATE CONVERSION",
	"CreateDomainStmt":             "CREATE DOMAIN",
	"CreateEnumStmt":               "CREATE TYPE",
	"CreateEventTrigStmt":          "CREATE EVENT TRIGGER",
	"CreateExtensionStmt":          "CREATE EXTENSION",
	"CreateFdwStmt":                "CREATE FOREIGN DATA WRAPPER",
	"CreateForeignServerStmt":      "CREATE SERVER",
	"CreateForeignTableStmt":       "CREATE FOREIGN TABLE",
	"CreateOpClassStmt":            "CREATE OPERATOR CLASS",
	"CreateOpFamilyStmt":           "CREATE OPERATOR FAMILY",
	"CreatePLangStmt":              "CREATE LANGUAGE",
	"CreatePolicyStmt":             "CREATE POLICY",
	"CreatePublicationStmt":        "CREATE PUBLICATION",
	"CreateRangeStmt":              "CREATE TYPE",
	"CreateRoleStmt":               "CREATE ROLE",
	"CreateSchemaStmt":             "CREATE SCHEMA",
	"CreateSeqStmt":                "CREATE SEQUENCE",
	"CreateStatsStmt":              "CREATE STATISTICS",
	"CreateStmt":                   "CREATE TABLE",
	"CreateSubscriptionStmt":       "CREATE SUBSCRIPTION",
	"CreateTableSpaceStmt":         "CREATE TABLESPACE",
	"CreateTransformStmt":          "CREATE TRANSFORM",
	"CreateTrigStmt":               "CREATE TRIGGER",
	"CreateUserMappingStmt":        "CREATE USER MAPPING",
	"CreatedbStmt":                 "CREATE DATABASE",
	"DeclareCursorStmt":            "DECLARE CURSOR",
	"DeleteStmt":                   "DELETE",
	"DoStmt":                       "DO",
	"DropOwnedStmt":                "DROP OWNED",
	"DropRoleStmt":                 "DROP ROLE",
	"DropSubscriptionStmt":         "DROP SUBSCRIPTION",
	"DropTableSpaceStmt":           "DROP TABLESPACE",
	"DropUserMappingStmt":          "DROP USER MAPPING",
	"DropdbStmt":                   "DROP DATABASE",
	"ExecuteStmt":                  "EXECUTE",
	"ExplainStmt":                  "EXPLAIN",
	"ImportForeignSchemaStmt":      "IMPORT FOREIGN SCHEMA",
	"IndexStmt":                    "CREATE INDEX",
	"InsertStmt":                   "INSERT",
	"ListenStmt":                   "LISTEN",
	"LoadStmt":                     "LOAD",
	"LockStmt":                     "LOCK TABLE",
	"MergeStmt":                    "MERGE",
	"NotifyStmt":                   "NOTIFY",
	"PrepareStmt":                  "PREPARE",
	"ReassignOwnedStmt":            "REASSIGN OWNED",
	"RefreshMatViewStmt":           "REFRESH MATERIALIZED VIEW",
	"ReindexStmt":                  "REINDEX",
	"RuleStmt":                     "CREATE RULE",
	"SecLabelStmt":                 "SECURITY LABEL",
	"TruncateStmt":                 "TRUNCATE TABLE",
	"UnlistenStmt":                 "UNLISTEN",
	"UpdateStmt":                   "UPDATE",
	"VariableShowStmt":             "SHOW",
	"ViewStmt":                     "CREATE VIEW",
}

// command returns the command tag of the statement m, as PostgreSQL's
// CreateCommandTag would (without row counts).
func command(m protoreflect.Message) string {
	switch x := m.Interface().(type) {
	case *pg_query.SelectStmt:
		if x.IntoClause != nil {
			return "SELECT INTO"
		}
		return "SELECT"
	case *pg_query.VariableSetStmt:
		switch x.Kind {
		case pg_query.VariableSetKind_VAR_RESET, pg_query.VariableSetKind_VAR_RESET_ALL:
			return "RESET"
		}
		return "SET"
	case *pg_query.TransactionStmt:
		if tag, ok := transactionTags[x.Kind]; ok {
			return tag
		}
	case *pg_query.DiscardStmt:
		switch x.Target {
		case pg_query.DiscardMode_DISCARD_ALL:
			return "DISCARD ALL"
		case pg_query.DiscardMode_DISCARD_PLANS:
			return "DISCARD PLANS"
		case pg_query.DiscardMode_DISCARD_SEQUENCES:
			return "DISCARD SEQUENCES"
		case pg_query.DiscardMode_DISCARD_TEMP:
			return "DISCARD TEMP"
		}
		return "DISCARD"
	case *pg_query.GrantStmt:
		if x.IsGrant {
			return "GRANT"
		}
		return "REVOKE"
	case *pg_query.GrantRoleStmt:
		if x.IsGrant {
			return "GRANT ROLE"
		}
		return "REVOKE ROLE"
	case *pg_query.CreateTableAsStmt:
		switch {
		case x.Objtype == pg_query.ObjectType_OBJECT_MATVIEW:
			return "CREATE MATERIALIZED VIEW"
		case x.IsSelectInto:
			return "SELECT INTO"
		}
		return "CREATE TABLE AS"
	case *pg_query.DropStmt:
		return "DROP " + objectWords(x.RemoveType)
	case *pg_query.AlterTableStmt:
		return "ALTER " + objectWords(x.Objtype)
	case *pg_query.AlterTableMoveAllStmt:
		return "ALTER " + objectWords(x.Objtype)
	case *pg_query.RenameStmt:
		switch x.RenameType {
		case pg_query.ObjectType_OBJECT_COLUMN, pg_query.ObjectType_OBJECT_ATTRIBUTE,
			pg_query.ObjectType_OBJECT_TABCONSTRAINT:
			return "ALTER " + objectWords(x.RelationType)
		}
		return "ALTER " + objectWords(x.RenameType)
	case *pg_query.AlterObjectSchemaStmt:
		return "ALTER " + objectWords(x.ObjectType)
	case *pg_query.AlterOwnerStmt:
		return "ALTER " + objectWords(x.ObjectType)
	case *pg_query.AlterObjectDependsStmt:
		return "ALTER " + objectWords(x.ObjectType)
	case *pg_query.AlterFunctionStmt:
		return "ALTER " + objectWords(x.Objtype)
	case *pg_query.CreateFunctionStmt:
		if x.IsProcedure {
			return "CREATE PROCEDURE"
		}
		return "CREATE FUNCTION"
	case *pg_query.DefineStmt:
		return "CREATE " + objectWords(x.Kind)
	case *pg_query.VacuumStmt:
		if x.IsVacuumcmd {
			return "VACUUM"
		}
		return "ANALYZE"
	case *pg_query.FetchStmt:
		if x.Ismove {
			return "MOVE"
		}
		return "FETCH"
	case *pg_query.ClosePortalStmt:
		if x.Portalname == "" {
			return "CLOSE CURSOR ALL"
		}
		return "CLOSE CURSOR"
	case *pg_query.DeallocateStmt:
		if x.Isall || x.Name == "" {
			return "DEALLOCATE ALL"
		}
		return "DEALLOCATE"
	}
	name := string(m.Descriptor().Name())
	if tag, ok := staticTags[name]; ok {
		return tag
	}
	return "???"
}

var transactionTags = map[pg_query.TransactionStmtKind]string{
	pg_query.TransactionStmtKind_TRANS_STMT_BEGIN:             "BEGIN",
	pg_query.TransactionStmtKind_TRANS_STMT_START:             "START TRANSACTION",
	pg_query.TransactionStmtKind_TRANS_STMT_COMMIT:            "COMMIT",
	pg_query.TransactionStmtKind_TRANS_STMT_ROLLBACK:          "ROLLBACK",
	pg_query.TransactionStmtKind_TRANS_STMT_SAVEPOINT:         "SAVEPOINT",
	pg_query.TransactionStmtKind_TRANS_STMT_RELEASE:           "RELEASE",
	pg_query.TransactionStmtKind_TRANS_STMT_ROLLBACK_TO:       "ROLLBACK",
	pg_query.TransactionStmtKind_TRANS_STMT_PREPARE:           "PREPARE TRANSACTION",
	pg_query.TransactionStmtKind_TRANS_STMT_COMMIT_PREPARED:   "COMMIT PREPARED",
	pg_query.TransactionStmtKind_TRANS_STMT_ROLLBACK_PREPARED: "ROLLBACK PREPARED",
}

// objectWordsOverride spells object types whose SQL name is not their enum
// name with underscores turned into spaces.
var objectWordsOverride = map[pg_query.ObjectType]string{
	pg_query.ObjectType_OBJECT_AMOP:            "OPERATOR CLASS",
	pg_query.ObjectType_OBJECT_AMPROC:          "OPERATOR CLASS",
	pg_query.ObjectType_OBJECT_DEFACL:          "DEFAULT PRIVILEGES",
	pg_query.ObjectType_OBJECT_DOMCONSTRAINT:   "DOMAIN",
	pg_query.ObjectType_OBJECT_FDW:             "FOREIGN DATA WRAPPER",
	pg_query.ObjectType_OBJECT_FOREIGN_SERVER:  "SERVER",
	pg_query.ObjectType_OBJECT_LARGEOBJECT:     "LARGE OBJECT",
	pg_query.ObjectType_OBJECT_MATVIEW:         "MATERIALIZED VIEW",
	pg_query.ObjectType_OBJECT_OPCLASS:         "OPERATOR CLASS",
	pg_query.ObjectType_OBJECT_OPFAMILY:        "OPERATOR FAMILY",
	pg_query.ObjectType_OBJECT_PARAMETER_ACL:   "PARAMETER",
	pg_query.ObjectType_OBJECT_STATISTIC_EXT:   "STATISTICS",
	pg_query.ObjectType_OBJECT_TABCONSTRAINT:   "TABLE",
	pg_query.ObjectType_OBJECT_TSCONFIGURATION: "TEXT SEARCH CONFIGURATION",
	pg_query.ObjectType_OBJECT_TSDICTIONARY:    "TEXT SEARCH DICTIONARY",
	pg_query.ObjectType_OBJECT_TSPARSER:        "TEXT SEARCH PARSER",
	pg_query.ObjectType_OBJECT_TSTEMPLATE:      "TEXT SEARCH TEMPLATE",
}

// objectWords returns the SQL words for an object type ("MATERIALIZED
// VIEW").
func objectWords(t pg_query.ObjectType) string {
	if s, ok := objectWordsOverride[t]; ok {
		return s
	}
	return strings.ReplaceAll(strings.TrimPrefix(t.String(), "OBJECT_"), "_", " ")
}
