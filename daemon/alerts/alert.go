package alerts

import (
	"time"

	"github.com/interlock-dev/interlock/redirect"
)

// Kind says which kind of bypass attempt an Alert reports.
type Kind string

// Alert kinds: the redirect package's event kinds.
const (
	KindRawSocket       Kind = Kind(redirect.KindRawSocket)
	KindGuardDrop       Kind = Kind(redirect.KindGuardDrop)
	KindTCDrop          Kind = Kind(redirect.KindTCDrop)
	KindForeignNetns    Kind = Kind(redirect.KindForeignNetns)
	KindRedirectRefused Kind = Kind(redirect.KindRedirectRefused)
	KindUnixSocket      Kind = Kind(redirect.KindUnixSocket)
	KindPacketBypass    Kind = Kind(redirect.KindPacketBypass)
	KindPreexisting     Kind = Kind(redirect.KindPreexisting)
)

// Action says what happened to the attempt.
type Action string

const (
	// ActionBlocked: refused, dropped or destroyed.
	ActionBlocked Action = "blocked"
	// ActionDetected: let through (guard in monitor mode) and reported.
	ActionDetected Action = "detected"
)

// Alert is one security alert: an attempt to reach a protected database
// without interlockd, or Count of them from one source. Identity fields
// the kernel could not establish are absent (UID nil, PID 0).
type Alert struct {
	// Seq orders the alerts of one daemon run (assigned on delivery).
	Seq  uint64    `json:"seq"`
	Time time.Time `json:"time"`
	// Host is the node the alert comes from.
	Host   string `json:"host,omitempty"`
	Kind   Kind   `json:"kind"`
	Action Action `json:"action"`
	// Count is how many attempts this alert stands for.
	Count uint64 `json:"count"`

	PID     uint32   `json:"pid,omitempty"`
	UID     *uint32  `json:"uid,omitempty"`
	GID     *uint32  `json:"gid,omitempty"`
	Comm    string   `json:"comm,omitempty"`
	Exe     string   `json:"exe,omitempty"`
	Cmdline []string `json:"cmdline,omitempty"`
	// Cgroup is the cgroup v2 path of the process or socket.
	Cgroup   string `json:"cgroup,omitempty"`
	CgroupID uint64 `json:"cgroup_id,omitempty"`
	// Netns is the network namespace cookie.
	Netns uint64 `json:"netns,omitempty"`

	// Source and Destination are "ip:port" (Destination a socket path for
	// unix sockets).
	Source      string `json:"source,omitempty"`
	Destination string `json:"destination,omitempty"`
	// Protocol is "tcp" or "unix".
	Protocol string `json:"protocol,omitempty"`
	// SocketType is the sender's socket type: "stream", "dgram", "raw",
	// "packet".
	SocketType string `json:"socket_type,omitempty"`
	// Interface is where a tc_drop was seen.
	Interface string `json:"interface,omitempty"`
}

// FromEvent converts a redirect event into an alert.
func FromEvent(ev redirect.Event) Alert {
	a := Alert{
		Time:      ev.Time,
		Kind:      Kind(ev.Kind),
		Action:    Action(ev.Action),
		Count:     max(ev.Count, 1),
		Exe:       ev.Exe,
		Cmdline:   ev.Cmdline,
		Cgroup:    ev.Cgroup,
		Interface: ev.Interface,
	}
	if a.Time.IsZero() {
		a.Time = time.Now()
	}
	if ev.Known.Has(redirect.KnownPID) {
		a.PID, a.Comm = ev.PID, ev.Comm
	}
	if ev.Known.Has(redirect.KnownUID) {
		uid := ev.UID
		a.UID = &uid
	}
	if ev.Known.Has(redirect.KnownGID) {
		gid := ev.GID
		a.GID = &gid
	}
	if ev.Known.Has(redirect.KnownCgroup) {
		a.CgroupID = ev.CgroupID
	}
	if ev.Known.Has(redirect.KnownNetns) {
		a.Netns = ev.NetnsCookie
	}
	if ev.Known.Has(redirect.KnownSource) && ev.Source.IsValid() {
		a.Source = ev.Source.String()
	}
	switch {
	case ev.Path != "":
		a.Destination, a.Protocol = ev.Path, "unix"
	case ev.Destination.IsValid():
		a.Destination, a.Protocol = ev.Destination.String(), "tcp"
	}
	a.SocketType = socketType(ev)
	return a
}

func socketType(ev redirect.Event) string {
	switch {
	case ev.SocketFamily == 17: // AF_PACKET
		return "packet"
	case ev.SocketType == 1:
		return "stream"
	case ev.SocketType == 2:
		return "dgram"
	case ev.SocketType == 3:
		return "raw"
	}
	return ""
}
