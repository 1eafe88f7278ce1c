# Column masking. Columns are tagged in the configuration (columns:
# {"public.customers.ssn": {"tags": ["pii"], "mask": {...}}}), not with
# COMMENT ON COLUMN: a table owner could drop a comment to unmask a
# column, while the configuration belongs to whoever runs interlockd.
#
# The decision's mask lists every column with a masked tag, whatever the
# statement reads: the proxy masks result columns by provenance (a view's
# or an expression's columns derive from base columns), so the mask must
# name base columns, not the columns a statement happens to mention.
package interlock

masked_column(settings) if {
	some tag in object.get(settings, "tags", [])
	tag in masked_tags
}

# mask is {"schema.table.column": rule} for this user: empty for members
# of the unmasked groups.
default mask := {}

mask := {col: rule |
	some col, settings in column_settings
	masked_column(settings)
	rule := object.get(settings, "mask", {"strategy": default_mask_strategy})
} if {
	not in_any(unmasked_groups)
}

# masked_tables are the tables ("schema.table") with a masked column.
masked_tables contains column_table(col) if some col, _ in mask

column_table(col) := substring(col, 0, max(indexof_n(col, ".")))

# Predicates that leak: a user who sees a column masked may not use it to
# pick, count, order or group rows (WHERE ssn LIKE '123%' reveals the
# value a digit at a time), nor copy its values into another column or
# table, where they would no longer be masked.
filtered := object.get(statement, "columns_filtered", [])

copied := object.get(statement, "columns_copied", [])

deny contains msg if {
	some col in filtered
	mask[col]
	msg := sprintf("column %s is masked for %s: it may not be used to filter, join, group or sort rows", [col, who])
}

deny contains msg if {
	some ref in filtered
	table := trim_suffix(ref, ".*")
	table != ref
	table in masked_tables
	msg := sprintf("table %s has columns masked for %s: its whole row may not be used to filter, join, group or sort rows", [table, who])
}

deny contains msg if {
	"*" in filtered
	count(mask) > 0
	msg := sprintf("the statement filters, joins, groups or sorts by a value of unknown origin, which could be a column masked for %s", [who])
}

deny contains msg if {
	some col in copied
	mask[col]
	msg := sprintf("column %s is masked for %s: its values may not be copied into other columns or tables", [col, who])
}

deny contains msg if {
	some ref in copied
	table := trim_suffix(ref, ".*")
	table != ref
	table in masked_tables
	msg := sprintf("table %s has columns masked for %s: its whole row may not be copied into other columns or tables", [table, who])
}

deny contains msg if {
	"*" in copied
	count(mask) > 0
	msg := sprintf("the statement copies a value of unknown origin, which could be a column masked for %s, into other columns or tables", [who])
}
