package redirect

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/prometheus/procfs"
)

// holderOf finds a process holding the socket with this inode (an open fd
// "socket:[inode]"), scanning /proc. It returns 0 if none does. When several
// processes share the socket (fork, fd passing), the lowest pid is returned.
func holderOf(inode uint32) uint32 {
	if inode == 0 {
		return 0
	}
	procs, err := procfs.AllProcs()
	if err != nil {
		return 0
	}
	want := sockTarget(inode)
	for _, p := range procs {
		if holds(p.PID, want) {
			return uint32(p.PID)
		}
	}
	return 0
}

// sockTarget is what /proc/<pid>/fd/<n> links to for a socket.
func sockTarget(inode uint32) string { return fmt.Sprintf("socket:[%d]", inode) }

// holds reports whether pid has an fd whose target is want.
func holds(pid int, want string) bool {
	dir := "/proc/" + strconv.Itoa(pid) + "/fd"
	f, err := os.Open(dir)
	if err != nil {
		return false
	}
	names, err := f.Readdirnames(-1)
	f.Close()
	if err != nil {
		return false
	}
	for _, n := range names {
		if t, err := os.Readlink(dir + "/" + n); err == nil && t == want {
			return true
		}
	}
	return false
}

// procIdentity reads comm, exe, cmdline and the start time (ns since boot)
// of a live pid.
func procIdentity(pid uint32) (comm, exe string, cmdline []string, startBoottime uint64, ok bool) {
	p, err := procfs.NewProc(int(pid))
	if err != nil {
		return "", "", nil, 0, false
	}
	st, err := p.Stat()
	if err != nil {
		return "", "", nil, 0, false
	}
	comm = strings.TrimSpace(st.Comm)
	exe, _ = p.Executable()
	cmdline, _ = p.CmdLine()
	return comm, exe, cmdline, st.Starttime * (1e9 / userHZ), true
}
