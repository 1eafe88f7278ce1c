package redirect

import (
	"net"
	"net/netip"
	"time"

	"golang.org/x/sys/unix"
)

// Flags of il_event.flags (bpf/guard.h).
const (
	evTask   = 1
	evUID    = 2
	evCgroup = 4
	evNetns  = 8
	evCookie = 16
	evInode  = 32
	evSrc    = 64
	evGID    = 128
)

const actionDetectedKernel = 2

// decodeEvent turns a kernel event into an Event, without /proc details.
// count overrides the event's own count when non-zero (flushes).
func decodeEvent(v *redirectIlEvent, now time.Time, bootNow uint64, count uint64) Event {
	ev := Event{
		Time:         bootToWall(v.BootNs, now, bootNow),
		Kind:         kernelKinds[v.Kind],
		Action:       ActionBlocked,
		Count:        uint64(v.Count),
		CgroupID:     v.CgroupId,
		NetnsCookie:  v.NetnsCookie,
		SocketCookie: v.Cookie,
		SocketInode:  v.Inode,
		SocketType:   v.SockType,
		SocketFamily: v.SockFamily,
		Protocol:     v.Proto,
	}
	if ev.Kind == "" {
		ev.Kind = EventKind("unknown")
	}
	if v.Action == actionDetectedKernel {
		ev.Action = ActionDetected
	}
	if count != 0 {
		ev.Count = count
	}
	if v.Flags&evTask != 0 {
		ev.Known |= KnownPID
		ev.PID = v.Pid
		ev.Comm = cString(v.Comm[:])
	}
	if v.Flags&evUID != 0 {
		ev.Known |= KnownUID
		ev.UID = v.Uid
	}
	if v.Flags&evGID != 0 {
		ev.Known |= KnownGID
		ev.GID = v.Gid
	}
	if v.Flags&evCgroup != 0 {
		ev.Known |= KnownCgroup
	}
	if v.Flags&evNetns != 0 {
		ev.Known |= KnownNetns
	}
	if v.Flags&evCookie == 0 {
		ev.SocketCookie = 0
	}
	if v.Flags&evInode == 0 {
		ev.SocketInode = 0
	}
	switch v.Family {
	case unix.AF_UNIX:
		ev.Path = unixPath(v.Path[:])
	case unix.AF_INET, unix.AF_INET6:
		ev.Destination = netip.AddrPortFrom(wordsAddr(v.DstAddr).Unmap(), ntohs(v.DstPort))
		if v.Flags&evSrc != 0 {
			ev.Known |= KnownSource
			ev.Source = netip.AddrPortFrom(wordsAddr(v.SrcAddr).Unmap(), ntohs(v.SrcPort))
		}
	}
	if v.Ifindex != 0 {
		if ifc, err := net.InterfaceByIndex(int(v.Ifindex)); err == nil {
			ev.Interface = ifc.Name
		}
	}
	return ev
}

// bootToWall converts a CLOCK_BOOTTIME timestamp to wall time.
func bootToWall(bootNs uint64, now time.Time, bootNow uint64) time.Time {
	if bootNs == 0 || bootNs > bootNow {
		return now
	}
	return now.Add(-time.Duration(bootNow - bootNs))
}

// bootTime reads CLOCK_BOOTTIME (what bpf_ktime_get_boot_ns returns).
func bootTime() uint64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		return 0
	}
	return uint64(ts.Nano())
}

func cString(b []int8) string {
	out := make([]byte, 0, len(b))
	for _, c := range b {
		if c == 0 {
			break
		}
		out = append(out, byte(c))
	}
	return string(out)
}

// unixPath renders a sun_path: abstract names (leading NUL) as "@name".
func unixPath(b []int8) string {
	if len(b) > 0 && b[0] == 0 {
		end := len(b)
		for end > 1 && b[end-1] == 0 {
			end--
		}
		out := make([]byte, 0, end)
		out = append(out, '@')
		for _, c := range b[1:end] {
			out = append(out, byte(c))
		}
		return string(out)
	}
	return cString(b)
}
