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
	// Kinds is every kind the statement has, sorted and without duplicates,
	// never empty. It includes the kinds of statements nested anywhere in it
	// (data-modifying CTEs, the statement EXPLAIN, PREPARE, DECLARE or COPY
	// wraps, rule actions, SQL function bodies). "select" is only given when
	// the statement itself (or the wrapped one) is a SELECT: a subquery or
	// INSERT ... SELECT adds its tables to TablesRead, not "select".
	Kinds []Kind `json:"kinds"`
	// Command is the command tag of the top-level statement, e.g. "SELECT",
	// "DROP TABLE", "SET".
	Command string `json:"command"`
	// TablesRead and TablesWritten are schema-qualified relation names
	// ("public.accounts"), sorted and without duplicates. An unqualified name
	// is qualified with "public" (the session's search_path is not known);
	// a database qualifier is dropped. Written: targets of INSERT, UPDATE,
	// DELETE, MERGE, COPY FROM, SELECT INTO/CREATE TABLE AS, and the
	// relations DDL creates, alters, drops or truncates. Read: every other
	// relation named, CTE names excepted; an UPDATE or DELETE target is also
	// read when it has WHERE or RETURNING, a MERGE or ON CONFLICT target
	// always.
	TablesRead    []string `json:"tables_read"`
	TablesWritten []string `json:"tables_written"`
	// UnfilteredWrite is true when an UPDATE or DELETE anywhere in the
	// statement has no WHERE clause, or a WHERE clause that references no
	// column (WHERE true, WHERE 1=1, WHERE $1), and for TRUNCATE.
	// WHERE CURRENT OF counts as a filter.
	UnfilteredWrite bool `json:"unfiltered_write"`
	// Functions called, lower case, schema-qualified only when the statement
	// qualifies them ("pg_sleep", "public.audit_fn"). Sorted, no duplicates.
	Functions []string `json:"functions"`
	// Settings names the run-time parameters a SET/RESET/SHOW touches,
	// lower case ("search_path", "role"); "all" for RESET ALL.
	Settings []string `json:"settings"`
	// Fingerprint is pg_query's fingerprint of the statement (hex). It is
	// informational: never a cache key on its own, and not for policy
	// decisions. It ignores constants in expressions but not in a few other
	// places (FETCH 5, float(24), option values), so a cached analysis may
	// carry the fingerprint of another text with the same cache key.
	Fingerprint string `json:"fingerprint"`
	// Explain is true for EXPLAIN; ExplainAnalyze when the inner statement
	// is executed (EXPLAIN ANALYZE). Kinds always include the inner
	// statement's kinds. Any ANALYZE option sets ExplainAnalyze, even
	// ANALYZE false: its argument may be a constant.
	Explain        bool `json:"explain"`
	ExplainAnalyze bool `json:"explain_analyze"`
	// Prepare is the name a PREPARE statement creates; Execute is the name
	// an EXECUTE statement runs; Deallocate the name DEALLOCATE removes
	// ("*" for DEALLOCATE ALL). The session resolves EXECUTE to the
	// analysis of the prepared statement.
	Prepare    string `json:"prepare,omitempty"`
	Execute    string `json:"execute,omitempty"`
	Deallocate string `json:"deallocate,omitempty"`
	// CopyExternal is true for COPY to or from a server file or PROGRAM
	// (anything but STDIN/STDOUT).
	CopyExternal bool `json:"copy_external"`
	// Output is the provenance of the statement's result columns, in the
	// order the server returns them (see OutputColumn and
	// docs/policy-analysis.md, "Provenance"). Empty for statements that
	// return no rows of their own (FETCH and EXECUTE: see Fetch and
	// Execute).
	Output []OutputColumn `json:"output"`
	// Filters are the columns whose values can decide which rows the
	// statement returns or touches, how many, in what order or grouping,
	// or which branch an expression takes: WHERE, JOIN ON/USING, GROUP BY,
	// HAVING, ORDER BY, DISTINCT [ON], window PARTITION BY/ORDER BY,
	// LIMIT/OFFSET, CASE conditions, aggregate FILTER and ORDER BY,
	// IN/ANY/ALL/EXISTS subqueries, and the columns compared by UNION,
	// INTERSECT and EXCEPT, anywhere in the statement. Column references
	// ("schema.table.column", see Sources), "schema.table.*" for a whole
	// row and "*" for a value of unknown provenance. Sorted, no duplicates.
	Filters []string `json:"columns_filtered"`
	// Copied are the columns whose values the statement stores elsewhere:
	// the values of INSERT, UPDATE SET, MERGE actions, ON CONFLICT DO
	// UPDATE, CREATE TABLE AS and SELECT INTO. Same form as Filters.
	Copied []string `json:"columns_copied"`
	// Declare is the cursor a DECLARE creates (its Output is what FETCH
	// returns); Fetch is the cursor a FETCH or MOVE reads. The session
	// resolves FETCH to the declared cursor's Output.
	Declare string `json:"declare,omitempty"`
	Fetch   string `json:"fetch,omitempty"`
	// ExecuteArgs is the provenance of each argument of EXECUTE, in order
	// ($1 first). BindParams substitutes them for the Params of the
	// prepared statement's Output.
	ExecuteArgs []OutputColumn `json:"execute_args,omitempty"`
	// Text is the statement's text, sliced from the original query string.
	// It is not part of the policy input (it contains constants).
	Text string `json:"-"`
}
