// Package analysis classifies SQL statements with the real PostgreSQL parser
// (pg_query_go): kinds, tables read and written, functions, WHERE presence
// and a fingerprint. Its output is the "statement" member of the policy input.
package analysis
