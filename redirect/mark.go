package redirect

import (
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// MarkControl returns a net.Dialer Control function that sets SO_MARK on the
// socket before it connects. interlockd's upstream dialer uses it with
// Config.Mark so that its own connections to protected endpoints are not
// redirected back to itself. Setting a mark needs CAP_NET_ADMIN, so ordinary
// processes cannot forge it.
func MarkControl(mark uint32) func(network, address string, c syscall.RawConn) error {
	return func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_MARK, int(mark))
		}); err != nil {
			return fmt.Errorf("set so_mark: %w", err)
		}
		if serr != nil {
			return fmt.Errorf("set so_mark: %w", serr)
		}
		return nil
	}
}
