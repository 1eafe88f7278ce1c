package redirect

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// fastopenData is what a "fastopen" client sends in its SYN.
const fastopenData = "ping"

// helperReq tells a client process what to do.
type helperReq struct {
	// Mode: "connect": connect, report, hold until stdin closes; "fastopen":
	// the same by sendto(MSG_FASTOPEN) of fastopenData; "loop": N
	// connect+close; "rawsyn": send one TCP SYN from a raw socket; "unix":
	// connect to the unix socket Path; "packet": send one TCP SYN in an
	// Ethernet frame from an AF_PACKET socket on Iface; "bulk": connect and
	// write N chunks of bulkChunk bytes.
	Mode   string
	Family int    // socket family: 4 or 6 (6 may dial IPv4-mapped addresses)
	Addr   string // destination ip:port
	Mark   uint32 // SO_MARK to set before connecting, 0 for none
	N      int    // loop iterations
	// Handoff: after reporting, pass the socket to a child process ("hold"
	// mode) and exit, so the connection outlives the process that opened it.
	Handoff bool
	// Netns is a network namespace to enter first (testenv.NetNS.Path);
	// entering needs root, so Drop then switches to DropUID/DropGID.
	Netns   string
	Drop    bool
	DropUID int
	DropGID int
	// TimeoutMS bounds a blocking connect (SO_SNDTIMEO), 0 for none.
	TimeoutMS int
	// Path is the unix socket of "unix" mode.
	Path string
	// Iface, DstMAC and Bypass are for "packet" mode: the interface, the
	// next hop's MAC, and whether to ask for PACKET_QDISC_BYPASS first.
	Iface  string
	DstMAC string
	Bypass bool
}

// helperResp is what a client process reports, as one JSON line on stdout.
type helperResp struct {
	PID       int
	Err       string // errno name of a failed connect, e.g. ECONNREFUSED
	MarkErr   string // errno name of a failed SO_MARK
	Local     string // getsockname
	Peer      string // getpeername: what the application sees
	ElapsedNS int64  // loop and bulk modes
	BypassErr string // errno name of a failed PACKET_QDISC_BYPASS
	Inode     uint64 // the socket's inode (rawsyn, packet, connect)
}

func runHelper(raw string) int {
	var req helperReq
	if err := json.Unmarshal([]byte(raw), &req); err != nil {
		fmt.Fprintln(os.Stderr, "helper request:", err)
		return 2
	}
	var (
		resp helperResp
		err  error
	)
	if req.Netns != "" {
		// Sockets made on this thread belong to the namespace.
		runtime.LockOSThread()
		if err := enterNetns(req.Netns); err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			return 2
		}
	}
	if req.Drop {
		if err := dropPrivileges(req.DropUID, req.DropGID); err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			return 2
		}
	}
	switch req.Mode {
	case "connect", "fastopen":
		err = helperConnect(req, &resp)
	case "loop":
		err = helperLoop(req, &resp)
	case "rawsyn":
		err = helperRawSYN(req, &resp)
	case "unix":
		err = helperUnix(req, &resp)
	case "packet":
		err = helperPacket(req, &resp)
	case "bulk":
		err = helperBulk(req, &resp)
	case "hold":
		// fd 3 is the inherited socket; keep it until stdin closes.
		_, err = io.Copy(io.Discard, os.Stdin)
	default:
		err = fmt.Errorf("unknown mode %q", req.Mode)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 2
	}
	return 0
}

func helperConnect(req helperReq, resp *helperResp) error {
	resp.PID = os.Getpid()
	fd, err := helperSocket(req, resp)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	sa, err := sockaddr(req.Family, req.Addr)
	if err != nil {
		return err
	}
	if req.TimeoutMS > 0 {
		tv := unix.NsecToTimeval(int64(req.TimeoutMS) * 1e6)
		if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &tv); err != nil {
			return err
		}
	}
	resp.Inode = sockInode(fd)
	if req.Mode == "fastopen" {
		err = unix.Sendto(fd, []byte(fastopenData), unix.MSG_FASTOPEN, sa)
	} else {
		err = unix.Connect(fd, sa)
	}
	if err != nil {
		resp.Err = errnoName(err)
	} else {
		if resp.Local, err = sockname(unix.Getsockname(fd)); err != nil {
			return err
		}
		if resp.Peer, err = sockname(unix.Getpeername(fd)); err != nil {
			return err
		}
	}
	if err := json.NewEncoder(os.Stdout).Encode(resp); err != nil {
		return err
	}
	if req.Handoff && resp.Err == "" {
		return handoff(fd)
	}
	// Hold the connection until the test closes stdin.
	_, err = io.Copy(io.Discard, os.Stdin)
	return err
}

// handoff starts a "hold" child that inherits the socket and stdin; the
// caller then exits while the connection stays open.
func handoff(fd int) error {
	raw, err := json.Marshal(helperReq{Mode: "hold"})
	if err != nil {
		return err
	}
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), helperEnv+"="+string(raw))
	cmd.Stdin = os.Stdin
	cmd.ExtraFiles = []*os.File{os.NewFile(uintptr(fd), "conn")}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start holder: %w", err)
	}
	return cmd.Process.Release()
}

func helperLoop(req helperReq, resp *helperResp) error {
	sa, err := sockaddr(req.Family, req.Addr)
	if err != nil {
		return err
	}
	start := time.Now()
	for range req.N {
		fd, err := helperSocket(req, resp)
		if err != nil {
			return err
		}
		if err := unix.Connect(fd, sa); err != nil {
			unix.Close(fd)
			return fmt.Errorf("connect: %w", err)
		}
		// RST on close: no TIME_WAIT, so the loop cannot run out of ports.
		if err := unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1}); err != nil {
			unix.Close(fd)
			return err
		}
		unix.Close(fd)
	}
	resp.ElapsedNS = time.Since(start).Nanoseconds()
	return json.NewEncoder(os.Stdout).Encode(resp)
}

func helperSocket(req helperReq, resp *helperResp) (int, error) {
	fam := unix.AF_INET
	if req.Family == 6 {
		fam = unix.AF_INET6
	}
	fd, err := unix.Socket(fam, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("socket: %w", err)
	}
	if req.Mark != 0 {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_MARK, int(req.Mark)); err != nil {
			resp.MarkErr = errnoName(err)
		}
	}
	return fd, nil
}

func sockaddr(family int, addr string) (unix.Sockaddr, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return nil, err
	}
	if family == 4 {
		if !ap.Addr().Is4() {
			return nil, fmt.Errorf("%s is not IPv4", addr)
		}
		return &unix.SockaddrInet4{Addr: ap.Addr().As4(), Port: int(ap.Port())}, nil
	}
	return &unix.SockaddrInet6{Addr: ap.Addr().As16(), Port: int(ap.Port())}, nil
}

func sockname(sa unix.Sockaddr, err error) (string, error) {
	if err != nil {
		return "", err
	}
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port)).String(), nil
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), uint16(sa.Port)).String(), nil
	}
	return "", fmt.Errorf("unexpected sockaddr %T", sa)
}

func errnoName(err error) string {
	var errno unix.Errno
	if errors.As(err, &errno) {
		return unix.ErrnoName(errno)
	}
	return err.Error()
}
