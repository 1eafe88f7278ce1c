package analysis

import (
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
)

// defaultSchema qualifies relation names the statement leaves unqualified.
// The session's search_path may differ; policies should treat SET
// search_path accordingly.
const defaultSchema = "public"

// relName returns the schema-qualified name of rv. A catalog (database)
// qualifier is dropped: PostgreSQL only accepts the current database there.
// An unqualified CREATE TEMP relation lives in pg_temp.
func relName(rv *pg_query.RangeVar, schema string) string {
	switch {
	case rv.Schemaname != "":
		schema = rv.Schemaname
	case rv.Relpersistence == "t":
		schema = "pg_temp"
	}
	return schema + "." + rv.Relname
}

// qualifiedName returns the relation named by a list of String nodes
// (DROP TABLE a.b), or "" if the list is not such a name.
func qualifiedName(items []*pg_query.Node, schema string) string {
	parts := make([]string, 0, 3)
	for _, it := range items {
		s, ok := it.GetNode().(*pg_query.Node_String_)
		if !ok {
			return ""
		}
		parts = append(parts, s.String_.Sval)
	}
	switch len(parts) {
	case 1:
		return schema + "." + parts[0]
	case 2:
		return parts[0] + "." + parts[1]
	case 3:
		return parts[1] + "." + parts[2]
	}
	return ""
}

// funcName returns a function name as written, lower case, dot-joined.
func funcName(names []*pg_query.Node) string {
	var b strings.Builder
	for i, n := range names {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(strings.ToLower(n.GetString_().GetSval()))
	}
	return b.String()
}

// roleFunctions are functions that change the session's role or
// authorization. set_config can set role and session_authorization; which
// setting it changes is a constant, and the analysis never depends on
// constants, so every call counts. set_user, set_user_u and reset_user come
// from the set_user extension.
var roleFunctions = map[string]bool{
	"set_config": true,
	"set_user":   true,
	"set_user_u": true,
	"reset_user": true,
}

// isRoleFunction reports whether the function name (possibly qualified)
// names a role-changing function.
func isRoleFunction(name string) bool {
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		name = name[i+1:]
	}
	return roleFunctions[name]
}

// roleSettings are run-time parameters whose change is a role change.
var roleSettings = map[string]bool{
	"role":                  true,
	"session_authorization": true,
}

func lower(s string) string { return strings.ToLower(s) }
