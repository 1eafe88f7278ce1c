# The deny rules. Each adds a reason for the person who ran the statement;
# a statement is allowed only when there is none.
package interlock

production if input.endpoint.labels.environment in production_environments

# statement is input.statement, or {} when there is none. (Read input by
# path, never as a whole: the engine then shares cached decisions between
# sessions that differ only in what the policy does not read.)
default statement := {}

statement := input.statement

# Who may connect at all.
deny contains msg if {
	group_level == 0
	msg := sprintf("%s is in none of the groups that grant access (readers: %v, writers: %v, admins: %v)", [who, reader_groups, writer_groups, admin_groups])
}

deny contains msg if {
	group_level > 0
	level == 0
	msg := sprintf("%s may not run statements from the process that opened this connection", [who])
}

# What a statement is.
deny contains "the statement has no kind the policy recognises" if count(kinds) == 0

deny contains msg if {
	some k in kinds
	not kind_level[k]
	msg := sprintf("statement kind %q is unknown to the policy", [k])
}

# Which role each kind needs.
deny contains msg if {
	level > 0
	some k in kinds
	need := required_level(k)
	level < need
	msg := sprintf("%s statements need the %s role; %s has the %s role%s", [kind_label(k), role_names[need], who, role, origin_note])
}

# Production. Other risky statements on production need approval
# (approval.rego).
destructive if startswith(statement.command, "DROP ")

destructive if statement.command == "TRUNCATE TABLE"

deny contains msg if {
	production
	destructive
	msg := sprintf("%s is not allowed on production, not even for admins", [statement.command])
}

# Files and programs on the database server.
deny contains "COPY to or from a file or program on the database server is not allowed" if {
	statement.copy_external
}

# search_path decides which table an unqualified name means; the analysis
# assumes public.*, so only admins may change it.
deny contains "changing search_path is reserved for admins (unqualified table names are checked as public.*)" if {
	not is_admin
	"search_path" in object.get(statement, "settings", [])
	statement.command != "SHOW"
}

# Dangerous functions.
deny contains msg if {
	not is_admin
	some f in object.get(statement, "functions", [])
	denied_function(f)
	msg := sprintf("function %s is not allowed for the %s role", [f, role])
}

denied_function(f) if function_base(f) in denied_functions

denied_function(f) if {
	some p in denied_function_prefixes
	startswith(function_base(f), p)
}

# function_base is the function name without its schema, lower case.
function_base(f) := lower(parts[count(parts) - 1]) if parts := split(f, ".")
