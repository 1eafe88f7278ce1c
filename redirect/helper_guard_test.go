package redirect

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// bulkChunk is what a "bulk" client writes per iteration.
const bulkChunk = 64 << 10

// enterNetns moves the calling thread into the network namespace at path.
func enterNetns(path string) error {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open netns: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("setns: %w", err)
	}
	return nil
}

// dropPrivileges switches every thread to uid and gid, without groups.
func dropPrivileges(uid, gid int) error {
	if err := syscall.Setgroups(nil); err != nil {
		return fmt.Errorf("setgroups: %w", err)
	}
	if err := syscall.Setgid(gid); err != nil {
		return fmt.Errorf("setgid: %w", err)
	}
	if err := syscall.Setuid(uid); err != nil {
		return fmt.Errorf("setuid: %w", err)
	}
	return nil
}

func sockInode(fd int) uint64 {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return 0
	}
	return st.Ino
}

// report writes the response line and holds until stdin closes.
func report(resp *helperResp) error {
	if err := json.NewEncoder(os.Stdout).Encode(resp); err != nil {
		return err
	}
	_, err := io.Copy(io.Discard, os.Stdin)
	return err
}

// synHeader is a 20-byte TCP SYN from sport to dport.
func synHeader(sport, dport uint16) []byte {
	h := make([]byte, 20)
	binary.BigEndian.PutUint16(h[0:], sport)
	binary.BigEndian.PutUint16(h[2:], dport)
	binary.BigEndian.PutUint32(h[4:], 0x1c0c4b00) // seq
	h[12] = 5 << 4                                // data offset
	h[13] = 0x02                                  // SYN
	binary.BigEndian.PutUint16(h[14:], 65535)     // window
	return h
}

// checksum is the Internet checksum of the chunks.
func checksum(chunks ...[]byte) uint16 {
	var sum uint32
	for _, c := range chunks {
		for i := 0; i+1 < len(c); i += 2 {
			sum += uint32(binary.BigEndian.Uint16(c[i:]))
		}
		if len(c)%2 == 1 {
			sum += uint32(c[len(c)-1]) << 8
		}
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// tcpChecksum4 fills the checksum of an IPv4 TCP segment.
func tcpChecksum4(src, dst [4]byte, seg []byte) {
	pseudo := make([]byte, 12)
	copy(pseudo[0:], src[:])
	copy(pseudo[4:], dst[:])
	pseudo[9] = unix.IPPROTO_TCP
	binary.BigEndian.PutUint16(pseudo[10:], uint16(len(seg)))
	binary.BigEndian.PutUint16(seg[16:], 0)
	binary.BigEndian.PutUint16(seg[16:], checksum(pseudo, seg))
}

// sourceFor is the local address the kernel picks for dst.
func sourceFor(dst netip.Addr) (netip.Addr, error) {
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(dst, 9)))
	if err != nil {
		return netip.Addr{}, err
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Unmap(), nil
}

// helperRawSYN sends one TCP SYN from a raw IPPROTO_TCP socket (the kernel
// adds the IP header), as a port scanner or a hand-rolled client would.
func helperRawSYN(req helperReq, resp *helperResp) error {
	resp.PID = os.Getpid()
	dst, err := netip.ParseAddrPort(req.Addr)
	if err != nil {
		return err
	}
	fam := unix.AF_INET
	if dst.Addr().Is6() {
		fam = unix.AF_INET6
	}
	fd, err := unix.Socket(fam, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_TCP)
	if err != nil {
		return fmt.Errorf("raw socket: %w", err)
	}
	defer unix.Close(fd)
	resp.Inode = sockInode(fd)
	if req.Mark != 0 {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_MARK, int(req.Mark)); err != nil {
			resp.MarkErr = errnoName(err)
		}
	}
	seg := synHeader(uint16(40000+os.Getpid()%20000), dst.Port())
	var sa unix.Sockaddr
	if fam == unix.AF_INET {
		src, err := sourceFor(dst.Addr())
		if err != nil {
			return err
		}
		tcpChecksum4(src.As4(), dst.Addr().As4(), seg)
		sa = &unix.SockaddrInet4{Addr: dst.Addr().As4()}
	} else {
		// The kernel computes the checksum at offset 16.
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_CHECKSUM, 16); err != nil {
			return fmt.Errorf("IPV6_CHECKSUM: %w", err)
		}
		sa = &unix.SockaddrInet6{Addr: dst.Addr().As16()}
	}
	for range max(req.N, 1) {
		if err := unix.Sendto(fd, seg, 0, sa); err != nil {
			resp.Err = errnoName(err)
		}
	}
	return report(resp)
}

// helperUnix connects to a unix stream socket.
func helperUnix(req helperReq, resp *helperResp) error {
	resp.PID = os.Getpid()
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("unix socket: %w", err)
	}
	defer unix.Close(fd)
	if req.Mark != 0 {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_MARK, int(req.Mark)); err != nil {
			resp.MarkErr = errnoName(err)
		}
	}
	if err := unix.Connect(fd, &unix.SockaddrUnix{Name: req.Path}); err != nil {
		resp.Err = errnoName(err)
	}
	return report(resp)
}

// helperPacket sends one IPv4 TCP SYN in a hand-made Ethernet frame from an
// AF_PACKET socket, optionally asking to bypass the qdisc layer (and tc).
func helperPacket(req helperReq, resp *helperResp) error {
	resp.PID = os.Getpid()
	dst, err := netip.ParseAddrPort(req.Addr)
	if err != nil {
		return err
	}
	ifc, err := net.InterfaceByName(req.Iface)
	if err != nil {
		return err
	}
	mac, err := net.ParseMAC(req.DstMAC)
	if err != nil {
		return err
	}
	src, err := sourceFor(dst.Addr())
	if err != nil {
		return err
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_IP)))
	if err != nil {
		return fmt.Errorf("packet socket: %w", err)
	}
	defer unix.Close(fd)
	resp.Inode = sockInode(fd)
	if req.Bypass {
		if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_QDISC_BYPASS, 1); err != nil {
			resp.BypassErr = errnoName(err)
		}
	}
	seg := synHeader(uint16(40000+os.Getpid()%20000), dst.Port())
	tcpChecksum4(src.As4(), dst.Addr().As4(), seg)
	ip := make([]byte, 20)
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(20+len(seg)))
	ip[8] = 64
	ip[9] = unix.IPPROTO_TCP
	s4, d4 := src.As4(), dst.Addr().As4()
	copy(ip[12:], s4[:])
	copy(ip[16:], d4[:])
	binary.BigEndian.PutUint16(ip[10:], checksum(ip))
	frame := make([]byte, 0, 14+len(ip)+len(seg))
	frame = append(frame, mac...)
	frame = append(frame, ifc.HardwareAddr...)
	frame = append(frame, 0x08, 0x00)
	frame = append(frame, ip...)
	frame = append(frame, seg...)
	sa := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_IP), Ifindex: ifc.Index, Halen: 6}
	copy(sa.Addr[:], mac)
	if err := unix.Sendto(fd, frame, 0, sa); err != nil {
		resp.Err = errnoName(err)
	}
	return report(resp)
}

// helperBulk connects and writes N chunks, timing the writes.
func helperBulk(req helperReq, resp *helperResp) error {
	resp.PID = os.Getpid()
	c, err := net.DialTimeout("tcp", req.Addr, waitFor)
	if err != nil {
		return err
	}
	defer c.Close()
	buf := make([]byte, bulkChunk)
	start := time.Now()
	for range req.N {
		if _, err := c.Write(buf); err != nil {
			return err
		}
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		return err
	}
	// The receiver closes after reading everything.
	if _, err := io.Copy(io.Discard, c); err != nil {
		return err
	}
	resp.ElapsedNS = time.Since(start).Nanoseconds()
	return json.NewEncoder(os.Stdout).Encode(resp)
}
