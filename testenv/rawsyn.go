package testenv

import (
	"fmt"
	"net/netip"

	"golang.org/x/sys/unix"
)

// SendRawSYN sends one TCP SYN to addr (IPv4) from a raw IP socket, as a
// bypass attempt would: no connect() for the redirect to see. It returns
// the error of the send (the guard makes it EPERM). Needs CAP_NET_RAW.
func SendRawSYN(addr netip.AddrPort) error {
	if !addr.Addr().Is4() {
		return fmt.Errorf("raw SYN: %s is not IPv4", addr)
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_TCP)
	if err != nil {
		return fmt.Errorf("raw socket: %w", err)
	}
	defer unix.Close(fd)
	hdr := make([]byte, 20)
	hdr[0], hdr[1] = 0xc3, 0x50 // source port 50000
	hdr[2], hdr[3] = byte(addr.Port()>>8), byte(addr.Port())
	hdr[4] = 1       // sequence number
	hdr[12] = 5 << 4 // data offset: 5 words
	hdr[13] = 0x02   // SYN
	hdr[14], hdr[15] = 0xff, 0xff
	return unix.Sendto(fd, hdr, 0, &unix.SockaddrInet4{Addr: addr.Addr().As4(), Port: int(addr.Port())})
}
