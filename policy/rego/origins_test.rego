package interlock_test

enforce := {"origins": {"enforce": true}}

agent := "/home/alice/.local/bin/claude"

test_origin_rules_off_by_default if {
	allowed(with_origin(mk(writers, "dev", insert_), agent))
	allowed(with_origin(mk(admins, "dev", create_table), agent))
}

test_psql_may_write if {
	every exe in ["/usr/bin/psql", "/usr/lib/postgresql/16/bin/psql", "/usr/pgsql-17/bin/psql", "/usr/local/bin/psql"] {
		allowed(with_origin(mk(writers, "dev", insert_), exe)) with data.interlock_config as enforce
	}
}

test_agent_gets_read_only if {
	i := with_origin(mk(writers, "dev", insert_), agent)
	denied(i, "insert statements need the writer role; alice@example.com has the reader role (limited by the process that opened the connection: /home/alice/.local/bin/claude is not on the origin write allowlist)") with data.interlock_config as enforce
	allowed(with_origin(mk(writers, "dev", select_), agent)) with data.interlock_config as enforce
	denied(with_origin(mk(admins, "dev", create_table), agent), "ddl statements need the admin role; alice@example.com has the reader role (limited by the process that opened the connection: /home/alice/.local/bin/claude") with data.interlock_config as enforce
}

test_no_origin_no_cap if allowed(mk(writers, "dev", insert_)) with data.interlock_config as enforce

test_reader_from_agent_has_no_note if {
	d := data.interlock.decision with input as with_origin(mk(readers, "dev", insert_), agent) with data.interlock_config as enforce
	d.reason == "insert statements need the writer role; alice@example.com has the reader role"
}

test_glob_star_stays_in_one_component if {
	denied(with_origin(mk(writers, "dev", insert_), "/usr/lib/postgresql/16/x/bin/psql"), "is not on the origin write allowlist") with data.interlock_config as enforce
	denied(with_origin(mk(writers, "dev", insert_), "/usr/bin/psql2"), "is not on the origin write allowlist") with data.interlock_config as enforce
}

test_unknown_executable_is_capped if {
	i := json.patch(with_origin(mk(writers, "dev", insert_), "/usr/bin/psql"), [{"op": "replace", "path": "/origin/exe", "value": ""}])
	denied(i, "process \"psql\" (executable unknown) is not on the origin write allowlist") with data.interlock_config as enforce
	denied(object.union(mk(writers, "dev", insert_), {"origin": {"exe": ""}}), "a process whose executable is unknown is not on the origin write allowlist") with data.interlock_config as enforce
}

test_allowlist_from_config if {
	cfg := {"origins": {"enforce": true, "write_allowlist": ["/opt/tools/**"]}}
	allowed(with_origin(mk(writers, "dev", insert_), "/opt/tools/bin/migrate")) with data.interlock_config as cfg
	denied(with_origin(mk(writers, "dev", insert_), "/usr/bin/psql"), "/usr/bin/psql is not on the origin write allowlist") with data.interlock_config as cfg
}

# A cgroup rule catches an agent that runs psql itself.
test_read_only_cgroups if {
	cfg := {"origins": {"enforce": true, "read_only_cgroups": ["/user.slice/user-*.slice/session-*.scope"]}}
	denied(with_origin(mk(writers, "dev", insert_), "/usr/bin/psql"), "(limited by the process that opened the connection: /usr/bin/psql runs in cgroup /user.slice/user-1000.slice/session-3.scope, which is read-only)") with data.interlock_config as cfg
	allowed(with_origin(mk(writers, "dev", insert_), "/usr/bin/psql")) with data.interlock_config as object.union(cfg, {"origins": {"read_only_cgroups": ["/system.slice/**"]}})
}

test_enforce_must_be_true if {
	allowed(with_origin(mk(writers, "dev", insert_), agent)) with data.interlock_config as {"origins": {"enforce": "yes"}}
}

# A site's own cap names the executable too.
test_custom_cap_names_executable if {
	denied(with_origin(mk(writers, "dev", insert_), agent), "(limited by the process that opened the connection, /home/alice/.local/bin/claude)") with data.interlock.origin_level as 1
}

test_custom_cap_without_origin if {
	d := data.interlock.decision with input as mk(writers, "dev", insert_) with data.interlock.origin_level as 1
	d.reason == "insert statements need the writer role; alice@example.com has the reader role (limited by the process that opened the connection)"
}
