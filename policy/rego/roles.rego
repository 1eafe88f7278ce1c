# Roles: what a user may do, from their groups and (later) the process that
# opened the connection.
package interlock

# Role names by level. Level 0 is no role at all.
role_names := ["none", "reader", "writer", "admin"]

user_groups := {g | some g in input.user.groups}

in_any(groups) if {
	some g in groups
	g in user_groups
}

# group_level is the highest role the user's groups grant.
group_level := 3 if {
	in_any(admin_groups)
} else := 2 if {
	in_any(writer_groups)
} else := 1 if {
	in_any(reader_groups)
} else := 0

# origin_level caps the role by the process that opened the connection
# (input.origin: comm, exe, uid, cgroup, ...). No cap by default; the
# origin rules in origins.rego lower it to the reader role when
# origins.enforce is set. A site policy may add its own cap in a file next
# to this one, e.g.
#
#   origin_level := 1 if input.origin.comm == "agent"
#
# (two caps that apply at once must agree, or evaluation fails and the
# statement is denied; see docs/policy.md).
default origin_level := 3

level := min({group_level, origin_level})

role := role_names[level]

is_admin if level == 3

# who names the user in reasons.
who := input.user.email if {
	input.user.email != ""
} else := input.user.sub if {
	input.user.sub != ""
} else := "this user"

# origin_note explains a role lowered by the connecting process, naming
# its executable when it is known.
origin_note := sprintf(" (limited by the process that opened the connection: %s)", [origin_cap_reason]) if {
	origin_level < group_level
	origin_cap_reason
} else := sprintf(" (limited by the process that opened the connection, %s)", [origin_process]) if {
	origin_level < group_level
	origin_present
} else := " (limited by the process that opened the connection)" if {
	origin_level < group_level
} else := ""
