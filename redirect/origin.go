package redirect

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"github.com/cilium/ebpf"
	"github.com/prometheus/procfs"
)

// ErrNoOrigin means the connection was not redirected by this host's
// programs, or its client socket is already closed.
var ErrNoOrigin = errors.New("redirect: no origin for this connection")

// userHZ is the unit of /proc/<pid>/stat start times (USER_HZ, fixed by the ABI).
const userHZ = 100

// Origin says which process opened a redirected connection and where it
// meant to go. The kernel records PID through NetnsCookie and OriginalDst at
// connect time; Exe and Cmdline are read from /proc on lookup and stay empty
// when the process has exited (or its pid was reused since).
type Origin struct {
	PID  uint32 // thread group id: the process, not the thread
	UID  uint32
	GID  uint32
	Comm string // the connecting thread's name, from the kernel
	Exe  string // /proc/<pid>/exe
	// Cmdline is /proc/<pid>/cmdline.
	Cmdline  []string
	CgroupID uint64
	// Cgroup is the cgroup v2 path of CgroupID relative to the hierarchy root
	// ("/system.slice/x.service"), empty if it cannot be resolved.
	Cgroup      string
	NetnsCookie uint64
	// OriginalDst is the protected endpoint the process connected to. IPv4
	// (also when the process dialled it IPv4-mapped) or IPv6.
	OriginalDst netip.AddrPort
}

// Origin returns the origin of a connection interlockd accepted: client is
// the connection's remote address, listener its local address
// (net.Conn RemoteAddr and LocalAddr). It returns an error wrapping
// ErrNoOrigin if the kernel knows no such connection.
func (r *Redirector) Origin(ctx context.Context, client, listener netip.AddrPort) (Origin, error) {
	if err := ctx.Err(); err != nil {
		return Origin{}, err
	}
	key := tupleKey(client, listener)
	var v redirectIlOrigin
	r.mu.RLock()
	if r.closed {
		r.mu.RUnlock()
		return Origin{}, ErrClosed
	}
	err := r.objs.IlOrigins.Lookup(&key, &v)
	r.mu.RUnlock()
	if errors.Is(err, ebpf.ErrKeyNotExist) {
		return Origin{}, fmt.Errorf("%w: %s -> %s", ErrNoOrigin, client, listener)
	}
	if err != nil {
		return Origin{}, fmt.Errorf("look up origin: %w", err)
	}
	o := originFromKernel(&v)
	o.Cgroup, _ = cgroupPathByID(r.cg.mount, o.CgroupID)
	o.addProc(v.StartBoottime)
	return o, nil
}

// tupleKey is the origin map key of a connection as the accepting side sees it.
func tupleKey(client, listener netip.AddrPort) redirectIlTuple {
	return redirectIlTuple{
		ClientAddr:   addrWords(client.Addr().WithZone("")),
		ListenerAddr: addrWords(listener.Addr().WithZone("")),
		ClientPort:   htons(client.Port()),
		ListenerPort: htons(listener.Port()),
	}
}

func originFromKernel(v *redirectIlOrigin) Origin {
	comm := make([]byte, 0, len(v.Comm))
	for _, c := range v.Comm {
		if c == 0 {
			break
		}
		comm = append(comm, byte(c))
	}
	return Origin{
		PID:         v.Pid,
		UID:         v.Uid,
		GID:         v.Gid,
		Comm:        string(comm),
		CgroupID:    v.CgroupId,
		NetnsCookie: v.NetnsCookie,
		OriginalDst: netip.AddrPortFrom(wordsAddr(v.DstAddr).Unmap(), ntohs(v.DstPort)),
	}
}

// addProc fills Exe and Cmdline from /proc if o.PID is still the process
// that connected: its start time must match the kernel's record before and
// after reading.
func (o *Origin) addProc(startBoottime uint64) {
	o.Exe, o.Cmdline = procDetails(o.PID, startBoottime)
}

// procDetails reads the executable and command line of pid if it is still
// the process that started at startBoottime (ns since boot, as the kernel
// records it): the start time must match before and after reading, so a
// reused pid is never described. Both are empty otherwise.
func procDetails(pid uint32, startBoottime uint64) (string, []string) {
	p, err := procfs.NewProc(int(pid))
	if err != nil {
		return "", nil
	}
	want := startBoottime / (1e9 / userHZ)
	same := func() bool {
		st, err := p.Stat()
		return err == nil && st.Starttime == want
	}
	if !same() {
		return "", nil
	}
	exe, _ := p.Executable()
	cmdline, _ := p.CmdLine()
	if !same() {
		return "", nil
	}
	return exe, cmdline
}
