// Package redirect loads, attaches and pins the eBPF programs that send every
// TCP connect to a protected database endpoint to interlockd, and answers
// which process a redirected connection came from.
package redirect
