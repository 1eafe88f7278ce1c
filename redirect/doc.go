// Package redirect loads, attaches and pins the eBPF programs that send every
// TCP connect to a protected database endpoint to interlockd (Redirector),
// answers which process a redirected connection came from (Origin), guards
// every other path to those endpoints (Guard: cgroup_skb, tc, connect_unix,
// setsockopt, startup sweep) and delivers the kernel's bypass events as plain
// structs (EventReader). It is the only package that imports cilium/ebpf.
// See docs/redirect.md and docs/guard.md.
package redirect
