# Statement kinds and the role each needs.
package interlock

# kind_level is the lowest role level that may run each statement kind.
# A kind missing here is unknown to the policy and always denied.
kind_level := {
	# Reading, and session housekeeping.
	"select": 1,
	"copy_to": 1,
	"set": 1,
	"transaction": 1,
	"utility": 1, # refined by utility_level below
	# Changing data.
	"insert": 2,
	"update": 2,
	"delete": 2,
	"merge": 2,
	"copy_from": 2,
	# Changing schema, privileges, identity; running code.
	"ddl": 3,
	"grant": 3,
	"role_change": 3,
	"procedural": 3,
	"function_call": 3,
}

# Utility commands harmless enough for readers (by command tag).
reader_utility_commands := {
	"SHOW",
	"EXPLAIN",
	"DECLARE CURSOR",
	"FETCH",
	"MOVE",
	"CLOSE CURSOR",
	"CLOSE CURSOR ALL",
	"LISTEN",
	"UNLISTEN",
	"EXECUTE",
	"DEALLOCATE",
	"DEALLOCATE ALL",
}

# Utility commands only admins may run: they load code into the server or
# act on the whole server.
admin_utility_commands := {
	"LOAD",
	"CHECKPOINT",
	"ALTER SYSTEM",
}

# Other utility commands (VACUUM, ANALYZE, NOTIFY, LOCK TABLE, ...) need
# the writer role.
utility_level := 1 if {
	input.statement.command in reader_utility_commands
} else := 3 if {
	input.statement.command in admin_utility_commands
} else := 2

required_level(k) := utility_level if k == "utility"

required_level(k) := kind_level[k] if k != "utility"

default kinds := []

kinds := input.statement.kinds

# kind_label names a kind in reasons; utility statements by their command.
kind_label(k) := input.statement.command if {
	k == "utility"
	input.statement.command != ""
} else := k
