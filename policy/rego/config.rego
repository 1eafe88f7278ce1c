# Settings of the default policy.
#
# Operators set them in interlockd's configuration (policy data); the engine
# places that document under data.interlock_config. Every setting has a
# default, so the policy works, and its tests run, without any data.
package interlock

# config is the operator's settings document, or {} when there is none.
default config := {}

config := data.interlock_config

# Group names (from the identity provider's groups claim) that grant each
# role. A user has the highest role any of their groups grants.
reader_groups := object.get(config, ["groups", "readers"], ["readers"])

writer_groups := object.get(config, ["groups", "writers"], ["writers"])

admin_groups := object.get(config, ["groups", "admins"], ["admins"])

# Groups whose members may approve statements held for approval. That a
# requester does not approve their own statement is enforced by the
# approval service, whatever the groups.
approver_groups := object.get(config, ["groups", "approvers"], ["approvers"])

# Values of the endpoint label "environment" that mean production.
production_environments := object.get(config, "production_environments", ["production"])

# How long a statement held for approval waits: a duration string ("5m")
# or a number of seconds.
approval_timeout := object.get(config, ["approval", "timeout"], "5m")

# Writes to tables with one of these tags need approval on production.
approval_table_tags := object.get(config, ["approval", "table_tags"], ["critical"])

# Tables and columns, with their tags (and, for columns, a mask rule):
#   tables:  {"public.payments": {"tags": ["critical"]}}
#   columns: {"public.customers.ssn": {"tags": ["pii"], "mask": {"strategy": "partial", "keep": 4}}}
# Names are as the catalog spells them: lower case unless created quoted.
table_settings := object.get(config, "tables", {})

column_settings := object.get(config, "columns", {})

# Columns with one of these tags are masked for everyone outside the
# unmasked groups, with the column's mask rule, or default_strategy.
masked_tags := object.get(config, ["masking", "tags"], ["pii"])

unmasked_groups := object.get(config, ["masking", "unmasked_groups"], ["pii-readers"])

default_mask_strategy := object.get(config, ["masking", "default_strategy"], "redact")

# The origin rules (origins.rego), off unless origins.enforce is true:
# connections from a process whose executable matches none of
# write_allowlist, or that runs in a cgroup matching read_only_cgroups,
# get at most the reader role. Patterns are globs ("*" stays within one
# path component, "**" crosses them).
origins_enforced if object.get(config, ["origins", "enforce"], false) == true

origin_write_allowlist := object.get(config, ["origins", "write_allowlist"], [
	"/usr/bin/psql",
	"/usr/lib/postgresql/*/bin/psql",
	"/usr/pgsql-*/bin/psql",
	"/usr/local/bin/psql",
])

origin_read_only_cgroups := object.get(config, ["origins", "read_only_cgroups"], [])

# Functions that non-admins may not call, compared by name without schema.
# Setting denied_functions replaces this list.
default_denied_functions := [
	# Run SQL given as a string, hiding what it reads from the analysis.
	"query_to_xml",
	"query_to_xmlschema",
	"query_to_xml_and_xmlschema",
	"cursor_to_xml",
	"cursor_to_xmlschema",
	"table_to_xml",
	"table_to_xmlschema",
	"table_to_xml_and_xmlschema",
	"schema_to_xml",
	"schema_to_xmlschema",
	"schema_to_xml_and_xmlschema",
	"database_to_xml",
	"database_to_xmlschema",
	"database_to_xml_and_xmlschema",
	"ts_stat",
	"ts_rewrite",
	# Read or list files on the database server.
	"pg_read_file",
	"pg_read_binary_file",
	"pg_stat_file",
	"pg_ls_dir",
	"pg_ls_logdir",
	"pg_ls_waldir",
	"pg_ls_tmpdir",
	"pg_ls_archive_statusdir",
	"pg_ls_logicalsnapdir",
	"pg_ls_logicalmapdir",
	"pg_ls_replslotdir",
	"pg_file_write",
	"pg_file_rename",
	"pg_file_unlink",
	"lo_import",
	"lo_export",
	# Act on other sessions or on the server.
	"pg_terminate_backend",
	"pg_cancel_backend",
	"pg_reload_conf",
	"pg_rotate_logfile",
	"pg_promote",
	"pg_switch_wal",
	"pg_log_backend_memory_contexts",
	# Change settings (set_config can also change the role).
	"set_config",
	# Read every change made to the database.
	"pg_logical_slot_get_changes",
	"pg_logical_slot_peek_changes",
	"pg_logical_slot_get_binary_changes",
	"pg_logical_slot_peek_binary_changes",
	"pg_create_logical_replication_slot",
	"pg_create_physical_replication_slot",
	"pg_drop_replication_slot",
]

denied_functions := object.get(config, "denied_functions", default_denied_functions)

# Function name prefixes that non-admins may not call: dblink runs SQL on
# another server.
denied_function_prefixes := object.get(config, "denied_function_prefixes", ["dblink"])
