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

# Admins who are also in one of these groups may run DDL and GRANT on
# production. Default: nobody.
production_ddl_groups := object.get(config, ["groups", "production_ddl"], [])

# Values of the endpoint label "environment" that mean production.
production_environments := object.get(config, "production_environments", ["production"])

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
