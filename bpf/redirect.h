/* SPDX-License-Identifier: (GPL-2.0-only OR MIT) */
/*
 * Types and maps shared by the redirect programs in redirect.c.
 * The Go side (package redirect) gets these types from bpf2go; keep
 * every field naturally aligned so the layouts match without padding.
 */
#ifndef INTERLOCK_REDIRECT_H
#define INTERLOCK_REDIRECT_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_core_read.h>

/* UAPI macros that vmlinux.h (BTF only carries types) does not have. */
#define AF_INET 2
#define AF_INET6 10
#define SOCK_STREAM 1
#define SOL_SOCKET 1
#define SO_MARK 36
#define ECONNREFUSED 111

/* Bits of il_ep_key.prefixlen that cover port and pad. */
#define IL_KEY_PORT_BITS 32
/* Bits of an IPv4-mapped IPv6 address before the IPv4 part. */
#define IL_V4MAPPED_BITS 96

/*
 * Protected endpoint: LPM trie key. The trie matches the first prefixlen
 * bits of (port, pad, addr), so the port always matches exactly and the
 * address matches as a CIDR. IPv4 addresses are stored IPv4-mapped
 * (::ffff:a.b.c.d) so one trie serves connect4 and connect6.
 */
struct il_ep_key {
	__u32 prefixlen;
	__u16 port; /* network byte order */
	__u16 pad;  /* always zero */
	__u32 addr[4];
};

/* Where a protected endpoint is redirected to: an interlockd listener. */
struct il_target {
	__u32 addr[4]; /* IPv6, or IPv4-mapped for an IPv4 listener */
	__u16 port;    /* network byte order */
	__u16 pad;
};

/*
 * Who connected where, recorded at connect time in the caller's context.
 * target_* is where the socket was sent; getpeername and sockops act only
 * while the socket's peer is still that target.
 */
struct il_origin {
	__u32 dst_addr[4];    /* original destination, IPv4-mapped for IPv4 */
	__u32 target_addr[4]; /* the listener it was redirected to, same form */
	__u64 cgroup_id;
	__u64 netns_cookie;
	__u64 start_boottime; /* process start, ns since boot: guards pid reuse */
	__u32 pid;            /* tgid: the process, not the thread */
	__u32 uid;
	__u32 gid;
	char comm[16];
	__u16 dst_port;    /* network byte order */
	__u16 target_port; /* network byte order */
	__u16 family;      /* AF_INET or AF_INET6: the socket's family */
	__u16 pad;
	__u32 pad2;
};

/*
 * A redirected connection as the accepting side (interlockd) sees it:
 * client = the connecting socket's local address, listener = its remote
 * address after the rewrite. Addresses IPv4-mapped for IPv4.
 */
struct il_tuple {
	__u32 client_addr[4];
	__u32 listener_addr[4];
	__u16 client_port;   /* network byte order */
	__u16 listener_port; /* network byte order */
};

/* Protected endpoints, written by userspace (Redirector.SetEndpoints). */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 4096);
	__type(key, struct il_ep_key);
	__type(value, struct il_target);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} il_endpoints SEC(".maps");

/* Origin per redirected socket; freed by the kernel with the socket. */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct il_origin);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} il_sk_origin SEC(".maps");

/*
 * Origin by 4-tuple, for the daemon's lookup after accept. Filled by
 * sockops when the client side is established, deleted when it closes.
 * LRU so a missed delete can never fill it up.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct il_tuple);
	__type(value, struct il_origin);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} il_origins SEC(".maps");

/* Set by the loader: the SO_MARK of interlockd's own upstream sockets. */
volatile const __u32 daemon_mark = 0;

static __always_inline void il_set_v4mapped(__u32 dst[4], __u32 ip4)
{
	dst[0] = 0;
	dst[1] = 0;
	dst[2] = bpf_htonl(0x0000ffff);
	dst[3] = ip4;
}

static __always_inline int il_is_v4mapped(const __u32 a[4])
{
	return a[0] == 0 && a[1] == 0 && a[2] == bpf_htonl(0x0000ffff);
}

#endif /* INTERLOCK_REDIRECT_H */
