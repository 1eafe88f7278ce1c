# Example policy for the example overlay: Kubernetes workloads listed in
# policy.data.readers may read; everything else is denied. Replace it with
# your own (docs/policy.md); a broken policy is rejected on reload and the
# last good one stays in force.
package interlock

import rego.v1

read_kinds := {"select", "transaction"}

default decision := {
	"allow": false,
	"reason": "only listed service accounts may read, and nothing else is allowed (example policy)",
}

decision := {"allow": true, "reason": "read access for a listed service account"} if {
	input.user.sub in data.interlock_config.readers
	count(input.statement.kinds) > 0
	every kind in input.statement.kinds {
		kind in read_kinds
	}
}
