package redirect

import (
	"net/netip"
	"time"
)

// EventKind says which kind of bypass attempt an Event reports.
type EventKind string

// Event kinds. See docs/guard.md for what produces each.
const (
	// KindRawSocket: a packet to a protected endpoint from a raw socket.
	KindRawSocket EventKind = "raw_socket"
	// KindGuardDrop: a packet to a protected endpoint from another socket
	// that the connect hooks did not redirect (e.g. a connection older than
	// the redirect).
	KindGuardDrop EventKind = "guard_drop"
	// KindTCDrop: a packet to a protected endpoint seen on a host interface
	// (forwarded, AF_PACKET, or from outside the enforcement cgroup).
	KindTCDrop EventKind = "tc_drop"
	// KindForeignNetns: a connect from another network namespace to an
	// endpoint whose listener is on loopback.
	KindForeignNetns EventKind = "foreign_netns"
	// KindRedirectRefused: the connect hook refused a redirect (no origin
	// storage, or an IPv4 socket and an IPv6 listener).
	KindRedirectRefused EventKind = "redirect_refused"
	// KindUnixSocket: a connect to a protected unix socket.
	KindUnixSocket EventKind = "unix_socket"
	// KindPacketBypass: setsockopt(PACKET_QDISC_BYPASS), which would send
	// packets past the tc backstop.
	KindPacketBypass EventKind = "packet_bypass"
	// KindPreexisting: a TCP connection to a protected endpoint that existed
	// when the guard started.
	KindPreexisting EventKind = "preexisting_connection"
)

var kernelKinds = map[uint8]EventKind{
	1: KindRawSocket,
	2: KindGuardDrop,
	3: KindTCDrop,
	4: KindForeignNetns,
	5: KindRedirectRefused,
	6: KindUnixSocket,
	7: KindPacketBypass,
}

// EventAction says what happened to the attempt.
type EventAction string

const (
	// ActionBlocked: refused, dropped or destroyed.
	ActionBlocked EventAction = "blocked"
	// ActionDetected: let through (guard in monitor mode) and reported.
	ActionDetected EventAction = "detected"
)

// Known says which identity fields of an Event the kernel could fill
// reliably; the others are zero.
type Known uint8

const (
	KnownPID    Known = 1 << iota // PID (and Comm): the acting process
	KnownUID                      // UID
	KnownGID                      // GID
	KnownCgroup                   // CgroupID
	KnownNetns                    // NetnsCookie
	KnownSource                   // Source
)

// Has reports whether all of w are known.
func (k Known) Has(w Known) bool { return k&w == w }

// Event is one bypass attempt (or Count of them from one source) reported
// by the redirect and guard programs or by the startup sweep. Only fields
// in Known are meaningful for the process identity.
type Event struct {
	Time   time.Time
	Kind   EventKind
	Action EventAction
	// Count is how many attempts this event stands for (retries and
	// repeats from the same source within the kernel's dedup window).
	Count uint64
	Known Known

	PID  uint32 // thread group id
	UID  uint32
	GID  uint32
	Comm string
	// Exe and Cmdline come from /proc while the process lives.
	Exe     string
	Cmdline []string
	// CgroupID is the cgroup of the socket (packets) or of the process
	// (connects); Cgroup is its path relative to the cgroup2 root.
	CgroupID    uint64
	Cgroup      string
	NetnsCookie uint64
	// SocketCookie and SocketInode identify the sending socket, 0 if unknown.
	SocketCookie uint64
	SocketInode  uint32
	// SocketType is the sender's SOCK_* type (1 stream, 2 dgram, 3 raw),
	// SocketFamily its AF_* family (17 for packet sockets); 0 if unknown.
	SocketType   uint8
	SocketFamily uint16
	// Protocol is the IP protocol (6 for TCP), 0 for unix sockets.
	Protocol uint8
	// Source and Destination are the packet's or connection's addresses;
	// Source may be invalid (connects). Path is the unix socket path as the
	// process gave it (abstract names start with '@').
	Source      netip.AddrPort
	Destination netip.AddrPort
	Path        string
	// Interface is where a tc event was seen.
	Interface string
}
