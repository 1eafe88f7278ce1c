# The default Interlock policy.
#
# interlockd evaluates data.interlock.decision once per statement (results
# are cached per session context and statement shape). The input is
# described in docs/policy.md: input.user, input.session, input.endpoint,
# input.origin (absent when the connection was not redirected) and
# input.statement, the analysis of one SQL statement.
#
# A decision is {"allow": bool, "reason": string}, with "mask" (columns
# masked for this user) on statements that may run, and "require_approval"
# on statements that run only after approval. Anything else, an undefined
# decision or an evaluation error makes interlockd deny.
package interlock

default decision := {"allow": false, "reason": "no rule allows this statement"}

# A deny rule always wins; approval applies only to a statement that would
# otherwise be allowed.
decision := {"allow": false, "reason": concat("; ", sort(deny))} if {
	count(deny) > 0
} else := {
	"allow": false,
	"reason": approval_reason,
	"mask": mask,
	"require_approval": {
		"approver_groups": approver_groups,
		"reason": approval_reason,
		"timeout": approval_timeout,
	},
} if {
	allowed
	count(approval_needed) > 0
} else := {"allow": true, "reason": sprintf("allowed for the %s role", [role]), "mask": mask} if {
	allowed
}

# allowed is the positive condition: a role, known kinds, each within the
# role. deny rules then take away.
allowed if {
	level > 0
	count(kinds) > 0
	every k in kinds {
		level >= required_level(k)
	}
}
