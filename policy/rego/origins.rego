# The origin rules: the same person may write from psql but gets at most
# the reader role from other programs, such as an AI coding agent.
#
# input.origin is the process that opened the connection, as the kernel saw
# it; it is present only for connections that came through the eBPF
# redirect. The rules apply only to those, and only when the configuration
# sets origins.enforce (see config.rego and docs/policy.md for why they are
# off by default).
package interlock

# Read input.origin by field, never as a whole: the engine then shares
# cached decisions between connections that differ only in fields the
# policy does not read (pid, netns, ...).
origin_present if input.origin.exe

origin_present if input.origin.comm

# origin_process names the connecting process in reasons.
origin_process := input.origin.exe if {
	input.origin.exe != ""
} else := sprintf("process %q (executable unknown)", [input.origin.comm]) if {
	input.origin.comm
} else := "a process whose executable is unknown"

origin_exe_allowed if {
	input.origin.exe != ""
	some pattern in origin_write_allowlist
	glob.match(pattern, ["/"], input.origin.exe)
}

origin_read_only_cgroup := cg if {
	cg := input.origin.cgroup
	some pattern in origin_read_only_cgroups
	glob.match(pattern, ["/"], cg)
}

# origin_cap_reason says why the origin rules cap this connection (and is
# undefined when they do not).
origin_cap_reason := sprintf("%s is not on the origin write allowlist", [origin_process]) if {
	origins_enforced
	origin_present
	not origin_exe_allowed
} else := sprintf("%s runs in cgroup %s, which is read-only", [origin_process, origin_read_only_cgroup]) if {
	origins_enforced
	origin_present
	origin_read_only_cgroup
}

origin_level := 1 if origin_cap_reason
