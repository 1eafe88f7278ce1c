package analysis

// Kind names a class of statement. A statement can have several kinds: a
// SELECT with a data-modifying CTE is both "select" and "delete".
type Kind = string

// The statement kinds. They are part of the policy input; keep them stable.
const (
	KindSelect       Kind = "select"
	KindInsert       Kind = "insert"
	KindUpdate       Kind = "update"
	KindDelete       Kind = "delete"
	KindMerge        Kind = "merge"
	KindDDL          Kind = "ddl"
	KindGrant        Kind = "grant"         // GRANT, REVOKE, ALTER DEFAULT PRIVILEGES, role membership
	KindCopyTo       Kind = "copy_to"       // COPY ... TO (data leaves the database)
	KindCopyFrom     Kind = "copy_from"     // COPY ... FROM (data enters the database)
	KindRoleChange   Kind = "role_change"   // SET ROLE, SET SESSION AUTHORIZATION, RESET ROLE/ALL, DISCARD ALL, set_config()
	KindSet          Kind = "set"           // SET/RESET/SHOW of an ordinary setting
	KindTransaction  Kind = "transaction"   // BEGIN, COMMIT, ROLLBACK, SAVEPOINT, PREPARE TRANSACTION, ...
	KindProcedural   Kind = "procedural"    // DO, CALL
	KindFunctionCall Kind = "function_call" // the FunctionCall protocol message
	KindUtility      Kind = "utility"       // any other utility statement (VACUUM, LISTEN, NOTIFY, CHECKPOINT, ...)
)

// Statement is the analysis of one SQL statement. It is the "statement"
// member of the policy input, so its JSON form is a public interface.
//
// It never contains literal constant values: two statements that differ only
// in their constants share one analysis (and one cached decision), so nothing
// that depends on a constant may appear here.
type Statement struct {
	// Kinds is every kind the statement has, sorted and without duplicates.
	Kinds []Kind `json:"kinds"`
	// Command is the command tag of the top-level statement, e.g. "SELECT",
	// "DROP TABLE", "SET".
	Command string `json:"command"`
	// TablesRead and TablesWritten are schema-qualified relation names
	// ("public.accounts"), sorted and without duplicates. An unqualified name
	// is qualified with "public".
	TablesRead    []string `json:"tables_read"`
	TablesWritten []string `json:"tables_written"`
	// UnfilteredWrite is true when an UPDATE or DELETE anywhere in the
	// statement has no WHERE clause, or a WHERE clause that references no
	// column (WHERE true, WHERE 1=1).
	UnfilteredWrite bool `json:"unfiltered_write"`
	// Functions called, lower case, schema-qualified only when the statement
	// qualifies them ("pg_sleep", "public.audit_fn"). Sorted, no duplicates.
	Functions []string `json:"functions"`
	// Settings names the run-time parameters a SET/RESET/SHOW touches,
	// lower case ("search_path", "role"); "all" for RESET ALL.
	Settings []string `json:"settings"`
	// Fingerprint is pg_query's fingerprint of the statement (hex). It is
	// informational: never a cache key on its own.
	Fingerprint string `json:"fingerprint"`
	// Explain is true for EXPLAIN; ExplainAnalyze when the inner statement
	// is executed (EXPLAIN ANALYZE). Kinds always include the inner
	// statement's kinds.
	Explain        bool `json:"explain"`
	ExplainAnalyze bool `json:"explain_analyze"`
	// Prepare is the name a PREPARE statement creates; Execute is the name
	// an EXECUTE statement runs; Deallocate the name DEALLOCATE removes
	// ("*" for DEALLOCATE ALL). The session resolves EXECUTE to the
	// analysis of the prepared statement.
	Prepare    string `json:"prepare,omitempty"`
	Execute    string `json:"execute,omitempty"`
	Deallocate string `json:"deallocate,omitempty"`
	// CopyExternal is true for COPY to or from a server file or PROGRAM.
	CopyExternal bool `json:"copy_external"`
	// Text is the statement's text, sliced from the original query string.
	// It is not part of the policy input (it contains constants).
	Text string `json:"-"`
}
