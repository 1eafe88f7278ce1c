# Helpers for the default policy's tests.
package interlock_test

# stmt is a statement analysis with defaults for every field.
stmt(over) := object.union(
	{
		"kinds": ["select"],
		"command": "SELECT",
		"tables_read": ["public.accounts"],
		"tables_written": [],
		"unfiltered_write": false,
		"functions": [],
		"settings": [],
		"fingerprint": "0",
		"explain": false,
		"explain_analyze": false,
		"copy_external": false,
	},
	over,
)

# mk builds an input for a user in groups, on an endpoint in environment
# env, running statement s.
mk(groups, env, s) := {
	"user": {"sub": "u1", "email": "alice@example.com", "groups": groups},
	"session": {"database": "app", "upstream_user": "app", "application_name": "psql", "client_addr": "127.0.0.1"},
	"endpoint": {"name": "db", "labels": {"environment": env}},
	"statement": s,
}

readers := ["readers"]

writers := ["writers"]

admins := ["admins"]

select_ := stmt({})

insert_ := stmt({"kinds": ["insert"], "command": "INSERT", "tables_written": ["public.accounts"]})

update_ := stmt({"kinds": ["update"], "command": "UPDATE", "tables_written": ["public.accounts"]})

delete_all := stmt({"kinds": ["delete"], "command": "DELETE", "tables_written": ["public.accounts"], "unfiltered_write": true})

drop_table := stmt({"kinds": ["ddl"], "command": "DROP TABLE", "tables_read": [], "tables_written": ["public.accounts"]})

truncate := stmt({"kinds": ["ddl"], "command": "TRUNCATE TABLE", "tables_read": [], "tables_written": ["public.accounts"]})

create_table := stmt({"kinds": ["ddl"], "command": "CREATE TABLE", "tables_read": [], "tables_written": ["public.t"]})

# allowed and denied evaluate the decision for an input; denied also
# checks that the reason contains text.
allowed(i) if {
	d := data.interlock.decision with input as i
	d.allow == true
	d.reason != ""
}

denied(i, text) if {
	d := data.interlock.decision with input as i
	d.allow == false
	contains(d.reason, text)
}

# held checks that the statement runs only after approval by the default
# approvers, with a reason containing text.
held(i, text) if {
	d := data.interlock.decision with input as i
	d.allow == false
	contains(d.reason, text)
	d.require_approval.reason == d.reason
	d.require_approval.approver_groups == ["approvers"]
	d.require_approval.timeout == "5m"
}

# with_origin adds an origin to an input.
with_origin(i, exe) := object.union(i, {"origin": {
	"pid": 4242, "uid": 1000, "gid": 1000, "comm": base(exe), "exe": exe,
	"cmdline": [exe], "cgroup": "/user.slice/user-1000.slice/session-3.scope",
	"netns": 4026531840, "original_destination": "10.1.2.3:5432",
}})

base(path) := parts[count(parts) - 1] if parts := split(path, "/")

# with_filters sets the columns a statement filters by.
with_filters(s, cols) := object.union(s, {"columns_filtered": cols})
