# Statements that run only after approval (segregation of duties). They
# apply on production to statements the user's role allows and no deny
# rule refuses: a statement denied outright is never offered for approval.
# Who may approve is approver_groups; that the requester does not approve
# their own statement is enforced by the approval service.
package interlock

# approvers names the approver groups in reasons.
approvers := concat(" or ", approver_groups)

# Statements that run nothing of what they contain need no approval:
# PREPARE (the EXECUTE is held instead) and EXPLAIN without ANALYZE.
runs_nothing if object.get(statement, "prepare", "") != ""

runs_nothing if {
	statement.explain
	not statement.explain_analyze
}

# Schema and privilege changes by admins. DROP and TRUNCATE stay denied
# outright (rules.rego).
approval_needed contains msg if {
	production
	not runs_nothing
	is_admin
	not destructive
	some k in kinds
	k in {"ddl", "grant"}
	msg := sprintf("%s on production needs approval by %s", [statement.command, approvers])
}

# UPDATE and DELETE without a WHERE clause that references a column.
approval_needed contains msg if {
	production
	not runs_nothing
	statement.unfiltered_write
	not destructive
	msg := sprintf("%s without WHERE on production needs approval by %s", [unfiltered_label, approvers])
}

unfiltered_label := statement.command if {
	statement.command in {"UPDATE", "DELETE"}
} else := "UPDATE or DELETE"

# Any write to a table tagged critical.
approval_needed contains msg if {
	production
	not runs_nothing
	some table in object.get(statement, "tables_written", [])
	critical_table(table)
	msg := sprintf("writing to critical table %s on production needs approval by %s", [table, approvers])
}

critical_table(table) if {
	some tag in object.get(table_settings, [table, "tags"], [])
	tag in approval_table_tags
}

approval_reason := concat("; ", sort(approval_needed))
