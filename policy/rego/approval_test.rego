package interlock_test

update_all := stmt({"kinds": ["update"], "command": "UPDATE", "tables_read": [], "tables_written": ["public.accounts"], "unfiltered_write": true})

alter_table := stmt({"kinds": ["ddl"], "command": "ALTER TABLE", "tables_read": [], "tables_written": ["public.accounts"]})

insert_payment := stmt({"kinds": ["insert"], "command": "INSERT", "tables_read": [], "tables_written": ["public.payments"]})

critical_cfg := {"tables": {"public.payments": {"tags": ["critical"]}, "public.accounts": {"tags": ["boring"]}}}

# UPDATE/DELETE without WHERE.
test_unfiltered_update_held_on_production if {
	held(mk(writers, "production", update_all), "UPDATE without WHERE on production needs approval by approvers")
	held(mk(admins, "production", update_all), "UPDATE without WHERE on production needs approval by approvers")
}

test_unfiltered_write_in_cte_held if {
	s := stmt({"kinds": ["delete", "select"], "command": "SELECT", "tables_written": ["public.accounts"], "unfiltered_write": true})
	held(mk(writers, "production", s), "UPDATE or DELETE without WHERE on production")
}

test_unfiltered_update_allowed_outside_production if allowed(mk(writers, "dev", update_all))

test_filtered_update_not_held if allowed(mk(writers, "production", update_))

test_reader_unfiltered_update_denied_not_held if {
	d := data.interlock.decision with input as mk(readers, "production", update_all)
	d.allow == false
	contains(d.reason, "update statements need the writer role")
	not d.require_approval
}

# A deny rule wins over approval.
test_deny_wins_over_approval if {
	d := data.interlock.decision with input as mk(writers, "production", object.union(update_all, {"functions": ["pg_read_file"]}))
	d.allow == false
	d.reason == "function pg_read_file is not allowed for the writer role"
	not d.require_approval
}

# DDL by admins.
test_admin_ddl_held_on_production if {
	held(mk(admins, "production", alter_table), "ALTER TABLE on production needs approval by approvers")
	held(mk(admins, "production", stmt({"kinds": ["grant"], "command": "GRANT", "tables_read": []})), "GRANT on production needs approval by approvers")
}

test_admin_ddl_allowed_outside_production if allowed(mk(admins, "dev", alter_table))

test_writer_ddl_denied_not_held if {
	d := data.interlock.decision with input as mk(writers, "production", alter_table)
	contains(d.reason, "ddl statements need the admin role")
	not d.require_approval
}

test_drop_and_truncate_stay_denied_on_production if {
	every s in [drop_table, truncate] {
		d := data.interlock.decision with input as mk(admins, "production", s)
		d.allow == false
		contains(d.reason, "is not allowed on production, not even for admins")
		not d.require_approval
	}
}

# Critical tables.
test_write_to_critical_table_held if {
	held(mk(writers, "production", insert_payment), "writing to critical table public.payments on production needs approval by approvers") with data.interlock_config as critical_cfg
	held(mk(writers, "production", stmt({"kinds": ["delete", "select"], "command": "SELECT", "tables_written": ["public.payments"]})), "critical table public.payments") with data.interlock_config as critical_cfg
}

test_critical_table_read_or_other_write_not_held if {
	allowed(mk(readers, "production", stmt({"tables_read": ["public.payments"]}))) with data.interlock_config as critical_cfg
	allowed(mk(writers, "production", insert_)) with data.interlock_config as critical_cfg
	allowed(mk(writers, "dev", insert_payment)) with data.interlock_config as critical_cfg
	allowed(mk(writers, "production", insert_payment))
}

test_critical_tags_from_config if {
	cfg := object.union(critical_cfg, {"approval": {"table_tags": ["boring"]}})
	allowed(mk(writers, "production", insert_payment)) with data.interlock_config as cfg
	held(mk(writers, "production", insert_), "writing to critical table public.accounts") with data.interlock_config as cfg
}

# Several reasons, sorted, in one approval.
test_several_approval_reasons if {
	s := stmt({"kinds": ["ddl"], "command": "ALTER TABLE", "tables_read": [], "tables_written": ["public.payments"]})
	d := data.interlock.decision with input as mk(admins, "production", s) with data.interlock_config as critical_cfg
	d.reason == "ALTER TABLE on production needs approval by approvers; writing to critical table public.payments on production needs approval by approvers"
	d.require_approval.reason == d.reason
}

# Approvers and timeout from config.
test_approvers_and_timeout_from_config if {
	cfg := {"groups": {"approvers": ["dba-leads", "security"]}, "approval": {"timeout": 600}}
	d := data.interlock.decision with input as mk(writers, "production", update_all) with data.interlock_config as cfg
	d.allow == false
	d.reason == "UPDATE without WHERE on production needs approval by dba-leads or security"
	d.require_approval == {"approver_groups": ["dba-leads", "security"], "reason": d.reason, "timeout": 600}
}

# Statements that run nothing need no approval.
test_prepare_and_plain_explain_not_held if {
	allowed(mk(writers, "production", object.union(update_all, {"command": "PREPARE", "prepare": "p"})))
	allowed(mk(writers, "production", object.union(update_all, {"command": "EXPLAIN", "explain": true})))
	held(mk(writers, "production", object.union(update_all, {"command": "EXPLAIN", "explain": true, "explain_analyze": true})), "UPDATE or DELETE without WHERE on production")
	held(mk(admins, "production", object.union(alter_table, {"prepare": ""})), "ALTER TABLE on production")
}

# A held statement carries the user's mask: it applies once approved.
test_held_statement_carries_mask if {
	d := data.interlock.decision with input as mk(writers, "production", update_all) with data.interlock_config as pii_cfg
	d.require_approval
	d.mask["public.customers.ssn"] == {"strategy": "partial", "keep": 4}
}
