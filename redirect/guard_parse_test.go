package redirect

import (
	"context"
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/interlock-dev/interlock/testenv"
)

// Packets no test process could easily send are run through the guard
// programs with BPF_PROG_TEST_RUN: fragments, IPv6 extension header chains,
// a segment routing header, VLAN tags, resets.

var (
	parseDst4 = netip.MustParseAddrPort("10.249.0.9:5432")
	parseDst6 = netip.MustParseAddrPort("[fd00:249::9]:5432")
	parseSrc4 = netip.MustParseAddr("10.249.0.1")
	parseSrc6 = netip.MustParseAddr("fd00:249::1")
)

// pkt builds an Ethernet frame.
type pkt struct {
	vlans   int // 802.1Q tags in front
	ip      []byte
	payload []byte
}

func (p pkt) frame() []byte {
	b := make([]byte, 12, 64)
	b[0], b[6] = 0x02, 0x02
	for range p.vlans {
		b = append(b, 0x81, 0x00, 0x00, 0x07)
	}
	if p.ip[0]>>4 == 4 {
		b = append(b, 0x08, 0x00)
	} else {
		b = append(b, 0x86, 0xdd)
	}
	b = append(b, p.ip...)
	return append(b, p.payload...)
}

func tcpSeg(dport uint16, flags byte) []byte {
	h := synHeader(40000, dport)
	h[13] = flags
	return h
}

// ipv4 is an IPv4 header (no options) for a payload of n bytes.
func ipv4(dst netip.Addr, proto byte, fragOff uint16, mf bool, n int) []byte {
	h := make([]byte, 20)
	h[0] = 0x45
	binary.BigEndian.PutUint16(h[2:], uint16(20+n))
	f := fragOff / 8
	if mf {
		f |= 0x2000
	}
	binary.BigEndian.PutUint16(h[6:], f)
	h[8], h[9] = 64, proto
	s, d := parseSrc4.As4(), dst.As4()
	copy(h[12:], s[:])
	copy(h[16:], d[:])
	return h
}

// ipv6 is an IPv6 header followed by extension headers ext (each given
// as its own next-header value and body; bodies are padded to 8 bytes).
func ipv6(dst netip.Addr, ext []extHdr, final byte, n int) []byte {
	var chain []byte
	for i, e := range ext {
		next := final
		if i+1 < len(ext) {
			next = ext[i+1].kind
		}
		chain = append(chain, e.bytes(next)...)
	}
	h := make([]byte, 40)
	h[0] = 0x60
	binary.BigEndian.PutUint16(h[4:], uint16(len(chain)+n))
	h[6] = final
	if len(ext) > 0 {
		h[6] = ext[0].kind
	}
	h[7] = 64
	s, d := parseSrc6.As16(), dst.As16()
	copy(h[8:], s[:])
	copy(h[24:], d[:])
	return append(h, chain...)
}

type extHdr struct {
	kind byte
	body []byte // after next header and length
}

func (e extHdr) bytes(next byte) []byte {
	switch e.kind {
	case 44: // fragment: fixed 8 bytes
		b := []byte{next, 0}
		return append(b, e.body[:6]...)
	default:
		b := append([]byte{next, 0}, e.body...)
		for len(b)%8 != 0 {
			b = append(b, 0)
		}
		b[1] = byte(len(b)/8 - 1)
		return b
	}
}

func destOpts() extHdr { return extHdr{kind: 60, body: make([]byte, 6)} }
func hopOpts() extHdr  { return extHdr{kind: 0, body: make([]byte, 6)} }

func fragment(off uint16, more bool) extHdr {
	b := make([]byte, 6)
	v := off & 0xfff8
	if more {
		v |= 1
	}
	binary.BigEndian.PutUint16(b[0:], v)
	return extHdr{kind: 44, body: b}
}

// srh is a segment routing header with segments_left 1 whose first
// segment (the final destination) is final.
func srh(final netip.Addr) extHdr {
	b := make([]byte, 6+16)
	b[0], b[1], b[2] = 4, 1, 0 // type 4, segments left 1, last entry 0
	a := final.As16()
	copy(b[6:], a[:])
	return extHdr{kind: 43, body: b}
}

func TestGuardParsing(t *testing.T) {
	requireGuard(t)
	cg := testenv.NewCgroup(t)
	pinDir := newPinDir(t)
	ctx := context.Background()
	r, err := New(ctx, Config{CgroupPath: cg.Path, PinDir: pinDir, Mark: testMark})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	listener := netip.MustParseAddrPort("127.0.0.1:1")
	setEndpoints(t, r, ep(host(parseDst4.Addr()), parseDst4.Port(), listener), ep(host(parseDst6.Addr()), parseDst6.Port(), listener))
	g, err := NewGuard(ctx, r, GuardConfig{Interfaces: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })

	syn, rst := byte(0x02), byte(0x04)
	seg := tcpSeg(5432, syn)
	other4 := netip.MustParseAddr("10.249.0.10")
	other6 := netip.MustParseAddr("fd00:249::10")
	nineDest := make([]extHdr, 9)
	for i := range nineDest {
		nineDest[i] = destOpts()
	}
	tests := []struct {
		name string
		p    pkt
		drop bool
	}{
		{"ipv4 syn", pkt{ip: ipv4(parseDst4.Addr(), 6, 0, false, 20), payload: seg}, true},
		{"ipv4 other port", pkt{ip: ipv4(parseDst4.Addr(), 6, 0, false, 20), payload: tcpSeg(80, syn)}, false},
		{"ipv4 other address", pkt{ip: ipv4(other4, 6, 0, false, 20), payload: seg}, false},
		{"ipv4 reset", pkt{ip: ipv4(parseDst4.Addr(), 6, 0, false, 20), payload: tcpSeg(5432, rst)}, false},
		{"ipv4 first fragment", pkt{ip: ipv4(parseDst4.Addr(), 6, 0, true, 20), payload: seg}, true},
		{"ipv4 later fragment", pkt{ip: ipv4(parseDst4.Addr(), 6, 8, false, 20), payload: seg}, false},
		{"ipv4 udp", pkt{ip: ipv4(parseDst4.Addr(), 17, 0, false, 20), payload: seg}, false},
		{"ipv6 syn", pkt{ip: ipv6(parseDst6.Addr(), nil, 6, 20), payload: seg}, true},
		{"ipv6 other port", pkt{ip: ipv6(parseDst6.Addr(), nil, 6, 20), payload: tcpSeg(80, syn)}, false},
		{"ipv6 hop, dest, first fragment", pkt{ip: ipv6(parseDst6.Addr(), []extHdr{hopOpts(), destOpts(), fragment(0, true)}, 6, 20), payload: seg}, true},
		{"ipv6 later fragment", pkt{ip: ipv6(parseDst6.Addr(), []extHdr{fragment(16, false)}, 6, 20), payload: seg}, false},
		{"ipv6 nine extension headers", pkt{ip: ipv6(parseDst6.Addr(), nineDest, 6, 20), payload: seg}, true},
		{"ipv6 nine extension headers, other address", pkt{ip: ipv6(other6, nineDest, 6, 20), payload: seg}, false},
		{"ipv6 segment routing to the endpoint", pkt{ip: ipv6(other6, []extHdr{srh(parseDst6.Addr())}, 6, 20), payload: seg}, true},
		{"ipv6 segment routing elsewhere", pkt{ip: ipv6(parseDst6.Addr(), []extHdr{srh(other6)}, 6, 20), payload: seg}, false},
	}
	egress := func(p pkt) []byte { return p.frame() }
	for _, tt := range tests {
		for _, prog := range []struct {
			name     string
			p        *ebpf.Program
			drop     uint32
			frame    func(pkt) []byte
			vlanToo  bool
			passCode uint32
		}{
			{"cgroup_skb", g.objs.IlGuardEgress, 0, egress, false, 1},
			{"tc", g.objs.IlGuardTcEth, 2, egress, true, 0xffffffff},
		} {
			vlans := []int{0}
			if prog.vlanToo {
				vlans = []int{0, 1, 2}
			}
			for _, v := range vlans {
				p := tt.p
				p.vlans = v
				name := prog.name + "/" + tt.name
				if v > 0 {
					name += "/vlan" + string(rune('0'+v))
				}
				t.Run(name, func(t *testing.T) {
					ret, err := prog.p.Run(&ebpf.RunOptions{Data: prog.frame(p)})
					if err != nil {
						t.Fatalf("test run: %v", err)
					}
					want := prog.passCode
					if tt.drop {
						want = prog.drop
					}
					if ret != want {
						t.Errorf("returned %#x, want %#x (drop %v)", ret, want, tt.drop)
					}
				})
			}
		}
	}
}

// BenchmarkGuardPrograms is the guard's cost per packet, measured in the
// kernel (BPF_PROG_TEST_RUN): a packet to an unprotected port (what nearly
// all traffic is), and one to a protected endpoint (dropped, reported and
// folded into the dedup window).
func BenchmarkGuardPrograms(b *testing.B) {
	requireGuard(b)
	cg := testenv.NewCgroup(b)
	pinDir := newPinDir(b)
	ctx := context.Background()
	r, err := New(ctx, Config{CgroupPath: cg.Path, PinDir: pinDir, Mark: testMark})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { r.Close() })
	if err := r.SetEndpoints(ctx, []Endpoint{{Prefix: host(parseDst4.Addr()), Port: parseDst4.Port(), Listener: netip.MustParseAddrPort("127.0.0.1:1")}}); err != nil {
		b.Fatal(err)
	}
	g, err := NewGuard(ctx, r, GuardConfig{Interfaces: []string{}, DedupWindow: 1 << 62})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { g.Close() })
	for _, c := range []struct {
		name string
		port uint16
	}{{"unprotected", 80}, {"protected", 5432}} {
		frame := pkt{ip: ipv4(parseDst4.Addr(), 6, 0, false, 20), payload: tcpSeg(c.port, 0x02)}.frame()
		for _, p := range []struct {
			name string
			prog *ebpf.Program
		}{{"cgroup_skb", g.objs.IlGuardEgress}, {"tc", g.objs.IlGuardTcEth}} {
			b.Run(p.name+"/"+c.name, func(b *testing.B) {
				_, per, err := p.prog.Benchmark(frame, b.N, b.ResetTimer)
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(per.Nanoseconds()), "ns/packet")
			})
		}
	}
}
