package interlock_test

pii_cfg := {"columns": {
	"public.customers.ssn": {"tags": ["pii"], "mask": {"strategy": "partial", "keep": 4}},
	"public.customers.email": {"tags": ["pii", "contact"], "mask": {"strategy": "email"}},
	"public.customers.notes": {"tags": ["pii"]},
	"public.customers.name": {"tags": ["contact"]},
	"public.customers.id": {},
}}

pii_mask := {
	"public.customers.ssn": {"strategy": "partial", "keep": 4},
	"public.customers.email": {"strategy": "email"},
	"public.customers.notes": {"strategy": "redact"},
}

pii_readers := ["readers", "pii-readers"]

decide(i) := d if {
	d := data.interlock.decision with input as i
}

test_no_columns_configured_no_mask if {
	d := decide(mk(readers, "dev", select_))
	d.allow
	d.mask == {}
}

# Every column with a masked tag, whatever the statement reads.
test_tagged_columns_masked if {
	every s in [select_, stmt({"tables_read": ["public.customers"]}), insert_] {
		d := decide(mk(writers, "dev", s)) with data.interlock_config as pii_cfg
		d.allow
		d.mask == pii_mask
	}
}

test_unmasked_groups_see_everything if {
	d := decide(mk(pii_readers, "dev", select_)) with data.interlock_config as pii_cfg
	d.allow
	d.mask == {}
}

test_admins_masked_too if {
	d := decide(mk(admins, "dev", select_)) with data.interlock_config as pii_cfg
	d.mask == pii_mask
}

test_masking_settings_from_config if {
	cfg := object.union(pii_cfg, {"masking": {"tags": ["contact"], "unmasked_groups": ["sales"], "default_strategy": "null"}})
	d := decide(mk(readers, "dev", select_)) with data.interlock_config as cfg
	d.mask == {"public.customers.email": {"strategy": "email"}, "public.customers.name": {"strategy": "null"}}
	d2 := decide(mk(["readers", "sales"], "dev", select_)) with data.interlock_config as cfg
	d2.mask == {}
	d3 := decide(mk(pii_readers, "dev", select_)) with data.interlock_config as cfg
	d3.mask == d.mask
}

# Predicates on masked columns leak them.
test_filter_on_masked_column_denied if {
	s := with_filters(stmt({"tables_read": ["public.customers"]}), ["public.customers.id", "public.customers.ssn"])
	denied(mk(readers, "dev", s), "column public.customers.ssn is masked for alice@example.com: it may not be used to filter, join, group or sort rows") with data.interlock_config as pii_cfg
	allowed(mk(pii_readers, "dev", s)) with data.interlock_config as pii_cfg
	allowed(mk(readers, "dev", s))
}

test_filter_on_unmasked_column_allowed if {
	s := with_filters(stmt({"tables_read": ["public.customers"]}), ["public.customers.id", "public.customers.name", "public.orders.ssn"])
	allowed(mk(readers, "dev", s)) with data.interlock_config as pii_cfg
}

test_every_masked_filter_named if {
	s := with_filters(stmt({}), ["public.customers.email", "public.customers.ssn"])
	d := decide(mk(readers, "dev", s)) with data.interlock_config as pii_cfg
	d.allow == false
	contains(d.reason, "column public.customers.email is masked")
	contains(d.reason, "column public.customers.ssn is masked")
	not d.mask
}

test_whole_row_filter_of_masked_table_denied if {
	denied(mk(readers, "dev", with_filters(stmt({}), ["public.customers.*"])), "table public.customers has columns masked for alice@example.com") with data.interlock_config as pii_cfg
	allowed(mk(readers, "dev", with_filters(stmt({}), ["public.orders.*"]))) with data.interlock_config as pii_cfg
	allowed(mk(pii_readers, "dev", with_filters(stmt({}), ["public.customers.*"]))) with data.interlock_config as pii_cfg
}

test_unknown_filter_denied_only_with_masks if {
	s := with_filters(stmt({}), ["*"])
	denied(mk(readers, "dev", s), "value of unknown origin") with data.interlock_config as pii_cfg
	allowed(mk(pii_readers, "dev", s)) with data.interlock_config as pii_cfg
	allowed(mk(readers, "dev", s))
}

# Copying masked values elsewhere would unmask them.
test_copying_masked_column_denied if {
	s := stmt({"kinds": ["insert"], "command": "INSERT", "tables_written": ["public.notes"], "columns_copied": ["public.customers.ssn"]})
	denied(mk(writers, "dev", s), "column public.customers.ssn is masked for alice@example.com: its values may not be copied") with data.interlock_config as pii_cfg
	denied(mk(writers, "dev", object.union(s, {"columns_copied": ["public.customers.*"]})), "its whole row may not be copied") with data.interlock_config as pii_cfg
	denied(mk(writers, "dev", object.union(s, {"columns_copied": ["*"]})), "copies a value of unknown origin") with data.interlock_config as pii_cfg
	allowed(mk(writers, "dev", object.union(s, {"columns_copied": ["public.customers.name"]}))) with data.interlock_config as pii_cfg
	allowed(mk(["writers", "pii-readers"], "dev", s)) with data.interlock_config as pii_cfg
}

test_column_table if {
	data.interlock.column_table("public.customers.ssn") == "public.customers"
	data.interlock.column_table("s.t.c") == "s.t"
}
