package redirect

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// NETLINK_SOCK_DIAG for TCP: list sockets with their mark and cgroup, and
// destroy one by its id and cookie (CONFIG_INET_DIAG_DESTROY).

// Attributes of inet_diag_msg (linux/inet_diag.h).
const (
	inetDiagMark     = 15 // sk_mark, sent to CAP_NET_ADMIN callers
	inetDiagCgroupID = 21 // the socket's cgroup v2 id
)

const (
	sizeofInetDiagReqV2 = 56
	sizeofInetDiagMsg   = 72
	inetDiagNoCookie    = ^uint32(0)
)

// TCP states of a socket that connected out (SYN_SENT, ESTABLISHED,
// FIN_WAIT1/2, CLOSE_WAIT, LAST_ACK, CLOSING): what the sweep looks at.
const tcpClientStates = 1<<1 | 1<<2 | 1<<4 | 1<<5 | 1<<8 | 1<<9 | 1<<11

// diagSocket is one TCP socket from a sock_diag dump.
type diagSocket struct {
	family   uint8
	local    netip.AddrPort
	remote   netip.AddrPort
	ifindex  uint32
	cookie   [2]uint32
	uid      uint32
	inode    uint32
	mark     uint32
	hasMark  bool
	cgroupID uint64
	hasCg    bool
}

// inetDiagReq is inet_diag_req_v2.
type inetDiagReq struct {
	family, protocol uint8
	states           uint32
	sport, dport     uint16 // host order
	src, dst         [16]byte
	ifindex          uint32
	cookie           [2]uint32
}

func (r *inetDiagReq) Len() int { return sizeofInetDiagReqV2 }

func (r *inetDiagReq) Serialize() []byte {
	b := make([]byte, sizeofInetDiagReqV2)
	b[0], b[1] = r.family, r.protocol
	binary.NativeEndian.PutUint32(b[4:], r.states)
	binary.BigEndian.PutUint16(b[8:], r.sport)
	binary.BigEndian.PutUint16(b[10:], r.dport)
	copy(b[12:28], r.src[:])
	copy(b[28:44], r.dst[:])
	binary.NativeEndian.PutUint32(b[44:], r.ifindex)
	binary.NativeEndian.PutUint32(b[48:], r.cookie[0])
	binary.NativeEndian.PutUint32(b[52:], r.cookie[1])
	return b
}

// dumpTCP lists the TCP sockets of family (AF_INET or AF_INET6) in the
// calling thread's network namespace whose state is in states.
func dumpTCP(family uint8, states uint32) ([]diagSocket, error) {
	req := nl.NewNetlinkRequest(nl.SOCK_DIAG_BY_FAMILY, unix.NLM_F_DUMP)
	req.AddData(&inetDiagReq{
		family:   family,
		protocol: unix.IPPROTO_TCP,
		states:   states,
		cookie:   [2]uint32{inetDiagNoCookie, inetDiagNoCookie},
	})
	var (
		out     []diagSocket
		errPars error
	)
	err := req.ExecuteIter(unix.NETLINK_INET_DIAG, nl.SOCK_DIAG_BY_FAMILY, func(msg []byte) bool {
		s, err := parseDiagMsg(msg)
		if err != nil {
			errPars = err
			return false
		}
		out = append(out, s)
		return true
	})
	if errPars != nil {
		return nil, errPars
	}
	if err != nil && !errors.Is(err, nl.ErrDumpInterrupted) {
		return nil, fmt.Errorf("sock_diag dump: %w", err)
	}
	return out, nil
}

func parseDiagMsg(msg []byte) (diagSocket, error) {
	if len(msg) < sizeofInetDiagMsg {
		return diagSocket{}, fmt.Errorf("sock_diag: short message (%d bytes)", len(msg))
	}
	s := diagSocket{family: msg[0]}
	sport := binary.BigEndian.Uint16(msg[4:])
	dport := binary.BigEndian.Uint16(msg[6:])
	src, dst := diagAddr(s.family, msg[8:24]), diagAddr(s.family, msg[24:40])
	s.local = netip.AddrPortFrom(src, sport)
	s.remote = netip.AddrPortFrom(dst, dport)
	s.ifindex = binary.NativeEndian.Uint32(msg[40:])
	s.cookie[0] = binary.NativeEndian.Uint32(msg[44:])
	s.cookie[1] = binary.NativeEndian.Uint32(msg[48:])
	s.uid = binary.NativeEndian.Uint32(msg[64:])
	s.inode = binary.NativeEndian.Uint32(msg[68:])
	attrs, err := nl.ParseRouteAttr(msg[sizeofInetDiagMsg:])
	if err != nil {
		return diagSocket{}, fmt.Errorf("sock_diag attributes: %w", err)
	}
	for _, a := range attrs {
		switch a.Attr.Type {
		case inetDiagMark:
			if len(a.Value) >= 4 {
				s.mark, s.hasMark = binary.NativeEndian.Uint32(a.Value), true
			}
		case inetDiagCgroupID:
			if len(a.Value) >= 8 {
				s.cgroupID, s.hasCg = binary.NativeEndian.Uint64(a.Value), true
			}
		}
	}
	return s, nil
}

// diagAddr reads an inet_diag address: 4 bytes for IPv4, 16 for IPv6.
func diagAddr(family uint8, b []byte) netip.Addr {
	if family == unix.AF_INET {
		return netip.AddrFrom4([4]byte(b[:4]))
	}
	return netip.AddrFrom16([16]byte(b[:16]))
}

// destroyTCP aborts the socket s (SOCK_DESTROY): the owner's next call
// fails with ECONNABORTED and the peer gets a reset. The cookie makes sure
// it is the socket that was listed, not a new one with the same 4-tuple.
func destroyTCP(s diagSocket) error {
	r := &inetDiagReq{
		family:   s.family,
		protocol: unix.IPPROTO_TCP,
		states:   ^uint32(0),
		sport:    s.local.Port(),
		dport:    s.remote.Port(),
		ifindex:  s.ifindex,
		cookie:   s.cookie,
	}
	if s.family == unix.AF_INET {
		a, b := s.local.Addr().As4(), s.remote.Addr().As4()
		copy(r.src[:], a[:])
		copy(r.dst[:], b[:])
	} else {
		r.src, r.dst = s.local.Addr().As16(), s.remote.Addr().As16()
	}
	req := nl.NewNetlinkRequest(nl.SOCK_DESTROY, unix.NLM_F_ACK)
	req.AddData(r)
	if _, err := req.Execute(unix.NETLINK_INET_DIAG, 0); err != nil {
		if errors.Is(err, unix.EOPNOTSUPP) {
			return fmt.Errorf("sock_diag destroy (the kernel needs CONFIG_INET_DIAG_DESTROY): %w", err)
		}
		return fmt.Errorf("sock_diag destroy: %w", err)
	}
	return nil
}
