/* SPDX-License-Identifier: (GPL-2.0-only OR MIT) */
/*
 * Packet parsing for the guard: find the destination address, protocol and
 * TCP port of an outgoing packet and decide whether it goes to a protected
 * endpoint. Used by the cgroup_skb program (headers relative to the network
 * header, family from skb->protocol) and the tc programs (headers from
 * skb->data, family from the frame itself: an AF_PACKET sender chooses
 * skb->protocol freely, but the receiver reads the ethertype).
 */
#ifndef INTERLOCK_PARSE_H
#define INTERLOCK_PARSE_H

#include "guard.h"

#define ETH_HLEN 14
#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define ETH_P_8021Q 0x8100
#define ETH_P_8021AD 0x88A8
#define TCP_FLAG_RST 0x04

#define NEXTHDR_HOP 0
#define NEXTHDR_ROUTING 43
#define NEXTHDR_FRAGMENT 44
#define NEXTHDR_AUTH 51
#define NEXTHDR_DEST 60

/* IPv6 extension headers followed before the port counts as invisible. */
#define IL_MAX_EXTHDRS 8

/* What the guard needs of a packet. */
struct il_pkt {
	__u32 src[4]; /* IPv4-mapped for IPv4 */
	__u32 dst[4]; /* the final destination (IPv6 routing header honoured) */
	__u16 sport;  /* network byte order */
	__u16 dport;  /* network byte order */
	__u16 family;
	__u8 proto;
	__u8 port_known; /* 0: the header chain hid the port; match by address */
};

/* Header reads: cgroup_skb relative to the network header, tc from data. */
static __always_inline int il_load(struct __sk_buff *skb, __u32 off, void *to,
				   __u32 len, int net_rel)
{
	if (net_rel)
		return bpf_skb_load_bytes_relative(skb, off, to, len, BPF_HDR_START_NET);
	return bpf_skb_load_bytes(skb, off, to, len);
}

/*
 * TCP header at off. Returns 1 when the packet may open or carry a
 * connection; a reset (which can do neither, and which the startup sweep's
 * SOCK_DESTROY sends) returns 0.
 */
static __always_inline int il_parse_tcp(struct __sk_buff *skb, __u32 off,
					int rel, struct il_pkt *p)
{
	__u8 th[14];

	p->proto = IPPROTO_TCP;
	/* A truncated header cannot be a connection; the receiver drops it. */
	if (il_load(skb, off, th, sizeof(th), rel))
		return 0;
	if (th[13] & TCP_FLAG_RST)
		return 0;
	__builtin_memcpy(&p->sport, &th[0], 2);
	__builtin_memcpy(&p->dport, &th[2], 2);
	p->port_known = 1;
	return 1;
}

static __always_inline int il_parse4(struct __sk_buff *skb, __u32 off, int rel,
				     struct il_pkt *p)
{
	__u8 h[20];
	__u32 a;
	__u32 ihl;

	if (il_load(skb, off, h, sizeof(h), rel))
		return 0;
	if ((h[0] >> 4) != 4)
		return 0; /* the receiver drops a version mismatch */
	ihl = (h[0] & 0xf) * 4;
	if (ihl < 20)
		return 0;
	__builtin_memcpy(&a, &h[12], 4);
	il_set_v4mapped(p->src, a);
	__builtin_memcpy(&a, &h[16], 4);
	il_set_v4mapped(p->dst, a);
	p->family = AF_INET;
	p->proto = h[9];
	/*
	 * A later fragment carries no port and cannot be reassembled without
	 * the first one, which carries at least 8 bytes of the TCP header.
	 */
	if (((h[6] << 8) | h[7]) & 0x1fff)
		return 0;
	if (p->proto != IPPROTO_TCP)
		return 0;
	return il_parse_tcp(skb, off + ihl, rel, p);
}

static __always_inline int il_parse6(struct __sk_buff *skb, __u32 off, int rel,
				     struct il_pkt *p)
{
	__u8 h[40];
	__u8 x[8];
	__u8 nexthdr;
	int i;

	if (il_load(skb, off, h, sizeof(h), rel))
		return 0;
	if ((h[0] >> 4) != 6)
		return 0;
	__builtin_memcpy(p->src, &h[8], 16);
	__builtin_memcpy(p->dst, &h[24], 16);
	p->family = AF_INET6;
	nexthdr = h[6];
	off += 40;

#pragma unroll
	for (i = 0; i < IL_MAX_EXTHDRS; i++) {
		switch (nexthdr) {
		case IPPROTO_TCP:
			return il_parse_tcp(skb, off, rel, p);
		case NEXTHDR_HOP:
		case NEXTHDR_DEST:
			if (il_load(skb, off, x, 2, rel))
				return 0;
			nexthdr = x[0];
			off += ((__u32)x[1] + 1) * 8;
			break;
		case NEXTHDR_ROUTING:
			if (il_load(skb, off, x, 4, rel))
				return 0;
			/*
			 * Segments left: the packet is bound for another final
			 * destination, the first address of the header (segment
			 * routing, type 2). Type 0 is dropped by Linux receivers.
			 */
			if (x[3] && il_load(skb, off + 8, p->dst, 16, rel))
				return 0;
			nexthdr = x[0];
			off += ((__u32)x[1] + 1) * 8;
			break;
		case NEXTHDR_FRAGMENT:
			if (il_load(skb, off, x, 4, rel))
				return 0;
			if (((x[2] << 8) | x[3]) & 0xfff8)
				return 0; /* later fragment, as for IPv4 */
			nexthdr = x[0];
			off += 8;
			break;
		case NEXTHDR_AUTH:
			if (il_load(skb, off, x, 2, rel))
				return 0;
			nexthdr = x[0];
			off += ((__u32)x[1] + 2) * 4;
			break;
		default:
			p->proto = nexthdr;
			return 0;
		}
	}
	/* A chain this long hides the port: judge by address alone. */
	p->proto = nexthdr;
	p->port_known = 0;
	return 1;
}

/* cgroup_skb: the stack set skb->protocol and the network header. */
static __always_inline int il_parse_net(struct __sk_buff *skb, struct il_pkt *p)
{
	if (skb->protocol == bpf_htons(ETH_P_IP))
		return il_parse4(skb, 0, 1, p);
	if (skb->protocol == bpf_htons(ETH_P_IPV6))
		return il_parse6(skb, 0, 1, p);
	return 0;
}

/* tc on an Ethernet (or loopback) device: follow the frame's ethertype. */
static __always_inline int il_parse_eth(struct __sk_buff *skb, struct il_pkt *p)
{
	__u8 eth[4];
	__u16 proto;
	__u32 off = 12;
	int i;

	if (bpf_skb_load_bytes(skb, off, eth, 2))
		return 0;
	proto = (eth[0] << 8) | eth[1];
	off += 2;
#pragma unroll
	for (i = 0; i < 2; i++) {
		if (proto != ETH_P_8021Q && proto != ETH_P_8021AD)
			break;
		if (bpf_skb_load_bytes(skb, off, eth, 4))
			return 0;
		proto = (eth[2] << 8) | eth[3];
		off += 4;
	}
	if (proto == ETH_P_IP)
		return il_parse4(skb, off, 0, p);
	if (proto == ETH_P_IPV6)
		return il_parse6(skb, off, 0, p);
	return 0;
}

/* tc on a device without a link-layer header (tun, wireguard, ipip). */
static __always_inline int il_parse_l3(struct __sk_buff *skb, struct il_pkt *p)
{
	__u8 v;

	if (bpf_skb_load_bytes(skb, 0, &v, 1))
		return 0;
	if ((v >> 4) == 4)
		return il_parse4(skb, 0, 0, p);
	if ((v >> 4) == 6)
		return il_parse6(skb, 0, 0, p);
	return 0;
}

/* Whether the parsed packet goes to a protected endpoint. */
static __always_inline int il_protected(const struct il_pkt *p)
{
	struct il_ep_key k = {};
	struct il_addr_key ak = {};

	if (p->port_known) {
		k.prefixlen = IL_KEY_PORT_BITS + 128;
		k.port = p->dport;
		__builtin_memcpy(k.addr, p->dst, 16);
		return bpf_map_lookup_elem(&il_endpoints, &k) != 0;
	}
	ak.prefixlen = 128;
	__builtin_memcpy(ak.addr, p->dst, 16);
	return bpf_map_lookup_elem(&il_prot_addrs, &ak) != 0;
}

#endif /* INTERLOCK_PARSE_H */
