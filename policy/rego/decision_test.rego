package interlock_test

# Readers.
test_reader_may_select if allowed(mk(readers, "dev", select_))

test_reader_may_select_on_production if allowed(mk(readers, "production", select_))

test_reader_may_show if allowed(mk(readers, "production", stmt({"kinds": ["set"], "command": "SHOW", "tables_read": [], "settings": ["search_path"]})))

test_reader_may_set_ordinary_setting if allowed(mk(readers, "dev", stmt({"kinds": ["set"], "command": "SET", "tables_read": [], "settings": ["statement_timeout"]})))

test_reader_may_use_transactions if allowed(mk(readers, "dev", stmt({"kinds": ["transaction"], "command": "BEGIN", "tables_read": []})))

test_reader_may_fetch if allowed(mk(readers, "dev", stmt({"kinds": ["utility"], "command": "FETCH", "tables_read": []})))

test_reader_may_copy_out if allowed(mk(readers, "dev", stmt({"kinds": ["copy_to"], "command": "COPY"})))

test_reader_may_not_insert if denied(mk(readers, "dev", insert_), "insert statements need the writer role; alice@example.com has the reader role")

test_reader_may_not_vacuum if denied(mk(readers, "dev", stmt({"kinds": ["utility"], "command": "VACUUM", "tables_read": []})), "VACUUM statements need the writer role")

test_reader_may_not_delete_through_cte if denied(mk(readers, "dev", stmt({"kinds": ["delete", "select"], "tables_written": ["public.accounts"]})), "delete statements need the writer role")

test_reader_may_not_copy_in if denied(mk(readers, "dev", stmt({"kinds": ["copy_from"], "command": "COPY"})), "copy_from statements need the writer role")

# Writers.
test_writer_may_write_outside_production if {
	allowed(mk(writers, "dev", insert_))
	allowed(mk(writers, "dev", update_))
	allowed(mk(writers, "dev", delete_all))
	allowed(mk(writers, "dev", stmt({"kinds": ["merge"], "command": "MERGE"})))
	allowed(mk(writers, "dev", stmt({"kinds": ["copy_from"], "command": "COPY"})))
}

test_writer_may_write_with_where_on_production if {
	allowed(mk(writers, "production", insert_))
	allowed(mk(writers, "production", update_))
}

test_unfiltered_write_held_on_production if held(mk(writers, "production", delete_all), "DELETE without WHERE on production needs approval by approvers")

test_unfiltered_write_held_on_production_for_admins if held(mk(admins, "production", delete_all), "DELETE without WHERE on production needs approval by approvers")

test_writer_may_not_create_table if denied(mk(writers, "dev", create_table), "ddl statements need the admin role")

test_writer_may_not_grant if denied(mk(writers, "dev", stmt({"kinds": ["grant"], "command": "GRANT"})), "grant statements need the admin role")

test_writer_may_not_load if denied(mk(writers, "dev", stmt({"kinds": ["utility"], "command": "LOAD", "tables_read": []})), "LOAD statements need the admin role")

# Admins.
test_admin_may_drop_outside_production if allowed(mk(admins, "dev", drop_table))

test_admin_may_not_drop_on_production if denied(mk(admins, "production", drop_table), "DROP TABLE is not allowed on production, not even for admins")

test_admin_may_not_truncate_on_production if denied(mk(admins, "production", truncate), "TRUNCATE TABLE is not allowed on production")

test_admin_ddl_on_production_held if held(mk(admins, "production", create_table), "CREATE TABLE on production needs approval by approvers")

# Role changes, procedural code, function calls.
test_role_change_admin_only if {
	s := stmt({"kinds": ["role_change"], "command": "SET", "tables_read": [], "settings": ["role"]})
	denied(mk(writers, "dev", s), "role_change statements need the admin role")
	allowed(mk(admins, "dev", s))
}

test_procedural_admin_only if {
	s := stmt({"kinds": ["procedural"], "command": "DO", "tables_read": []})
	denied(mk(writers, "dev", s), "procedural statements need the admin role")
	allowed(mk(admins, "dev", s))
}

test_function_call_message_admin_only if {
	s := stmt({"kinds": ["function_call"], "command": "", "tables_read": []})
	denied(mk(writers, "dev", s), "function_call statements need the admin role")
}

# search_path.
test_set_search_path_denied_for_non_admins if {
	s := stmt({"kinds": ["set"], "command": "SET", "tables_read": [], "settings": ["search_path"]})
	denied(mk(writers, "dev", s), "changing search_path is reserved for admins")
	denied(mk(readers, "dev", stmt({"kinds": ["set"], "command": "RESET", "tables_read": [], "settings": ["search_path"]})), "search_path")
	allowed(mk(admins, "dev", s))
}

# COPY with server files or programs.
test_copy_external_denied_for_everyone if {
	denied(mk(admins, "dev", stmt({"kinds": ["copy_to"], "command": "COPY", "copy_external": true})), "file or program on the database server")
	denied(mk(admins, "dev", stmt({"kinds": ["copy_from"], "command": "COPY", "copy_external": true})), "file or program on the database server")
}

# Dangerous functions.
test_dangerous_functions_denied_for_non_admins if {
	every f in ["dblink", "dblink_exec", "public.dblink_connect", "query_to_xml", "pg_read_file", "pg_catalog.pg_read_binary_file", "pg_ls_dir", "lo_import", "lo_export", "pg_terminate_backend", "pg_cancel_backend", "set_config", "PG_READ_FILE"] {
		denied(mk(writers, "dev", stmt({"functions": [f]})), sprintf("function %s is not allowed for the writer role", [f]))
	}
}

test_ordinary_functions_allowed if allowed(mk(readers, "dev", stmt({"functions": ["lower", "count", "now"]})))

test_dangerous_functions_allowed_for_admins if allowed(mk(admins, "dev", stmt({"functions": ["pg_read_file"]})))

test_denied_functions_configurable if {
	cfg := {"denied_functions": ["pg_sleep"], "denied_function_prefixes": []}
	denied(mk(readers, "dev", stmt({"functions": ["pg_sleep"]})), "function pg_sleep") with data.interlock_config as cfg
	allowed(mk(readers, "dev", stmt({"functions": ["dblink"]}))) with data.interlock_config as cfg
}

# Unknown and missing kinds; no groups.
test_unknown_kind_denied if denied(mk(admins, "dev", stmt({"kinds": ["teleport"]})), "statement kind \"teleport\" is unknown")

test_no_kind_denied if denied(mk(admins, "dev", stmt({"kinds": []})), "no kind the policy recognises")

test_no_group_denied if denied(mk(["staff"], "dev", select_), "alice@example.com is in none of the groups that grant access")

test_no_user_denied if denied(object.remove(mk(readers, "dev", select_), ["user"]), "this user is in none of the groups")

test_no_statement_denied if denied(object.remove(mk(readers, "dev", select_), ["statement"]), "no kind")

# Group names from data.
test_group_names_from_config if {
	cfg := {"groups": {"readers": ["analysts"], "writers": ["eng"], "admins": ["dba"]}}
	allowed(mk(["analysts"], "dev", select_)) with data.interlock_config as cfg
	denied(mk(["analysts"], "dev", insert_), "need the writer role") with data.interlock_config as cfg
	allowed(mk(["eng"], "dev", insert_)) with data.interlock_config as cfg
	allowed(mk(["dba"], "dev", create_table)) with data.interlock_config as cfg
	denied(mk(["readers"], "dev", select_), "in none of the groups") with data.interlock_config as cfg
}

test_production_environments_from_config if {
	cfg := {"production_environments": ["prod", "production"]}
	held(mk(writers, "prod", delete_all), "without WHERE on production") with data.interlock_config as cfg
	allowed(mk(writers, "staging", delete_all)) with data.interlock_config as cfg
}

# The origin cap: a rule lowering origin_level makes an allowed statement
# deny with a reason that says why.
test_origin_cap if {
	i := object.union(mk(writers, "dev", insert_), {"origin": {"comm": "agent"}})
	denied(i, "limited by the process that opened the connection") with data.interlock.origin_level as 1
	allowed(object.union(mk(writers, "dev", select_), {"origin": {"comm": "agent"}})) with data.interlock.origin_level as 1
}

# Several reasons are all given, sorted.
test_all_reasons_given if {
	d := data.interlock.decision with input as mk(readers, "production", stmt({"kinds": ["delete"], "unfiltered_write": true, "functions": ["pg_read_file"]}))
	d.allow == false
	contains(d.reason, "delete statements need the writer role")
	contains(d.reason, "function pg_read_file")
	not d.require_approval # a denied statement is not offered for approval
	not contains(d.reason, "approval")
}

test_origin_cap_to_nothing if {
	denied(mk(admins, "dev", select_), "alice@example.com may not run statements from the process that opened this connection") with data.interlock.origin_level as 0
}

test_user_named_by_sub_without_email if {
	i := json.patch(mk(readers, "dev", insert_), [{"op": "replace", "path": "/user/email", "value": ""}])
	denied(i, "insert statements need the writer role; u1 has the reader role")
}

# The default decision applies when there is no deny reason and yet the
# statement is not allowed (the deny rules normally prevent that).
test_default_decision if {
	d := data.interlock.decision with data.interlock.allowed as false with data.interlock.deny as set()
	d == {"allow": false, "reason": "no rule allows this statement"}
}
