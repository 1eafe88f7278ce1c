// Package analysis classifies SQL statements with the real PostgreSQL parser
// (pg_query_go, called with the session's standard_conforming_strings): kinds,
// command tag, tables read and written, functions, settings, unfiltered
// writes and a fingerprint, and the provenance of the statement's values:
// which stored columns each result column may derive from (Output), which
// columns its predicates use (Filters) and which it copies (Copied). Its
// output is the "statement" member of the policy input. CopyOptions and
// ViewOutput serve the proxy outside the cache.
//
//	text ──parse (libpg_query, scs option)──► RawStmt per statement
//	     ──walk every node (protoreflect) with handlers where context
//	       matters (CTE scope, DML targets, wrappers, SET, COPY)──► Statement
//
// Classification is conservative: a statement has the kinds of everything
// it contains, and unknown statements are "utility", never "select". The
// result never depends on the values of literal constants, so texts that
// differ only in constants (see package sqlkey) can share it.
package analysis
