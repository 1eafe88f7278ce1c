package redirect

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
)

// Endpoint is a protected database endpoint and the interlockd listener its
// connections are sent to. interlockd knows the endpoint of a connection by the
// listener that accepted it.
type Endpoint struct {
	// Prefix is the destination address or CIDR; a single address is a /32 or
	// /128. IPv4 prefixes also match IPv4-mapped IPv6 destinations
	// (::ffff:a.b.c.d). IPv6 prefixes must not overlap ::ffff:0:0/96.
	Prefix netip.Prefix
	// Port is the destination TCP port.
	Port uint16
	// Listener is the interlockd listener the connections go to. IPv4 prefixes
	// need an IPv4 listener; IPv6 prefixes take either (an IPv4 listener is
	// reached IPv4-mapped, so not from IPV6_V6ONLY sockets).
	Listener netip.AddrPort
}

// String renders the endpoint for logs and errors.
func (e Endpoint) String() string {
	return fmt.Sprintf("%s port %d -> %s", e.Prefix, e.Port, e.Listener)
}

// v4MappedPrefix is the IPv4-mapped IPv6 range, where IPv4 entries live in the trie.
var v4MappedPrefix = netip.MustParsePrefix("::ffff:0:0/96")

// normalize validates e and returns it masked, with IPv4-mapped forms unmapped.
func (e Endpoint) normalize() (Endpoint, error) {
	p := e.Prefix
	if !p.IsValid() {
		return e, errors.New("invalid prefix")
	}
	if p.Addr().Zone() != "" {
		return e, errors.New("prefix must not have a zone")
	}
	if p.Addr().Is4In6() {
		if p.Bits() < 96 {
			return e, errors.New("IPv4-mapped prefix shorter than /96")
		}
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	if p.Addr().Is6() && p.Overlaps(v4MappedPrefix) {
		return e, errors.New("IPv6 prefix overlaps ::ffff:0:0/96; give IPv4 endpoints as IPv4")
	}
	if e.Port == 0 {
		return e, errors.New("port must not be 0")
	}
	l := netip.AddrPortFrom(e.Listener.Addr().Unmap(), e.Listener.Port())
	if !l.Addr().IsValid() || l.Addr().IsUnspecified() || l.Port() == 0 {
		return e, errors.New("listener must be a concrete address and port")
	}
	if l.Addr().Zone() != "" {
		return e, errors.New("listener must not have a zone")
	}
	if p.Addr().Is4() && !l.Addr().Is4() {
		return e, errors.New("an IPv4 endpoint needs an IPv4 listener")
	}
	return Endpoint{Prefix: p.Masked(), Port: e.Port, Listener: l}, nil
}

// key encodes a normalized endpoint as the LPM trie key: port and pad always
// match (32 bits), then the address prefix (IPv4 as IPv4-mapped).
func (e Endpoint) key() redirectIlEpKey {
	bits := e.Prefix.Bits()
	if e.Prefix.Addr().Is4() {
		bits += 96
	}
	return redirectIlEpKey{
		Prefixlen: uint32(32 + bits),
		Port:      htons(e.Port),
		Addr:      addrWords(e.Prefix.Addr()),
	}
}

// target encodes a normalized endpoint's listener as the trie value.
func (e Endpoint) target() redirectIlTarget {
	return redirectIlTarget{Addr: addrWords(e.Listener.Addr()), Port: htons(e.Listener.Port())}
}

// endpointFromEntry decodes a trie entry (for logs and tests).
func endpointFromEntry(k redirectIlEpKey, v redirectIlTarget) Endpoint {
	a := wordsAddr(k.Addr)
	bits := int(k.Prefixlen) - 32
	if a.Is4In6() {
		a, bits = a.Unmap(), bits-96
	}
	return Endpoint{
		Prefix:   netip.PrefixFrom(a, bits),
		Port:     ntohs(k.Port),
		Listener: netip.AddrPortFrom(wordsAddr(v.Addr).Unmap(), ntohs(v.Port)),
	}
}

// addrWords lays out an address as the kernel does: 16 bytes in network
// order, IPv4 as IPv4-mapped, read as four native-endian words.
func addrWords(a netip.Addr) [4]uint32 {
	b := a.As16()
	var w [4]uint32
	for i := range w {
		w[i] = binary.NativeEndian.Uint32(b[4*i:])
	}
	return w
}

func wordsAddr(w [4]uint32) netip.Addr {
	var b [16]byte
	for i := range w {
		binary.NativeEndian.PutUint32(b[4*i:], w[i])
	}
	return netip.AddrFrom16(b)
}

// htons returns port as the kernel stores a __be16 read as a native u16.
func htons(port uint16) uint16 {
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], port)
	return binary.NativeEndian.Uint16(b[:])
}

func ntohs(v uint16) uint16 {
	var b [2]byte
	binary.NativeEndian.PutUint16(b[:], v)
	return binary.BigEndian.Uint16(b[:])
}
