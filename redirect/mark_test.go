package redirect

import (
	"net"
	"testing"

	"github.com/interlock-dev/interlock/testenv"
	"golang.org/x/sys/unix"
)

func TestMarkControlSetsSOMark(t *testing.T) {
	testenv.RequireRoot(t) // SO_MARK needs CAP_NET_ADMIN
	a := listenLocal(t, "tcp4", "127.0.0.1:0")
	d := net.Dialer{Control: MarkControl(testMark)}
	c, err := d.Dial("tcp", a.addr().String())
	if err != nil {
		t.Fatalf("dial with MarkControl: %v", err)
	}
	defer c.Close()
	raw, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var (
		mark int
		gerr error
	)
	if err := raw.Control(func(fd uintptr) {
		mark, gerr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_MARK)
	}); err != nil || gerr != nil {
		t.Fatalf("read SO_MARK: %v %v", err, gerr)
	}
	if uint32(mark) != testMark {
		t.Errorf("SO_MARK = %#x, want %#x", mark, testMark)
	}
}
