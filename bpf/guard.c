// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * Interlock guard: no path to a protected endpoint avoids interlockd.
 *
 *   cgroup_skb/egress   every packet a socket in the enforcement cgroup
 *                       sends: to a protected endpoint and not from
 *                       interlockd's (marked) sockets? drop and report.
 *                       Covers raw sockets, connections older than the
 *                       redirect and anything the connect hooks missed.
 *   tc egress           host interfaces: the same for forwarded packets,
 *                       AF_PACKET senders and sockets outside the
 *                       enforcement cgroup (no sender identity there).
 *   cgroup/connect_unix connect to a protected unix socket (by name).
 *   cgroup/setsockopt   PACKET_QDISC_BYPASS, which would skip tc.
 *
 * il_config.mode chooses between dropping (enforce) and only reporting
 * (monitor). Reports go through il_events, rate limited per source (see
 * guard.h). Maps shared with redirect.c are the same instances at run time.
 * See docs/guard.md.
 */
#include "parse.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

#define TC_ACT_SHOT 2
#define SOL_PACKET 263
#define PACKET_QDISC_BYPASS 20
#define UNIX_PATH_MAX 108

extern void *bpf_cast_to_kern_ctx(void *obj) __ksym;
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym;

/* Protected unix socket names (final path component, or @abstract). */
struct il_unix_key {
	char name[UNIX_PATH_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, struct il_unix_key);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} il_unix_names SEC(".maps");

/* cgroup ids whose processes may connect to protected unix sockets. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u64);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} il_unix_allow SEC(".maps");

/* The inode number of the socket sk belongs to, 0 if it has none. */
static __always_inline __u32 il_sock_inode(struct bpf_sock *sk)
{
	struct sock *ks = bpf_rdonly_cast(sk, bpf_core_type_id_kernel(struct sock));
	struct socket_alloc *sa;
	struct socket *so;

	so = ks->sk_socket;
	if (!so)
		return 0;
	/* struct socket is the first member of struct socket_alloc. */
	sa = bpf_rdonly_cast(so, bpf_core_type_id_kernel(struct socket_alloc));
	return (__u32)sa->vfs_inode.i_ino;
}

static __always_inline void il_fill_pkt(struct il_event *ev, const struct il_pkt *p)
{
	__builtin_memcpy(ev->src_addr, p->src, 16);
	__builtin_memcpy(ev->dst_addr, p->dst, 16);
	ev->src_port = p->sport;
	ev->dst_port = p->dport;
	ev->family = p->family;
	ev->proto = p->proto;
	ev->flags |= IL_EV_SRC;
}

/* The socket fields of the sender, when it has one. */
static __always_inline void il_fill_sock(struct il_event *ev,
					 struct __sk_buff *skb,
					 struct bpf_sock *sk)
{
	ev->cookie = bpf_get_socket_cookie(skb);
	ev->uid = bpf_get_socket_uid(skb);
	ev->cgroup_id = bpf_skb_cgroup_id(skb);
	ev->netns_cookie = bpf_get_netns_cookie(skb);
	ev->sock_type = sk->type;
	ev->sock_family = sk->family;
	ev->inode = il_sock_inode(sk);
	ev->flags |= IL_EV_COOKIE | IL_EV_UID | IL_EV_CGROUP | IL_EV_NETNS;
	if (ev->inode)
		ev->flags |= IL_EV_INODE;
}

/*
 * The sending task, for senders that transmit in their own system call
 * (raw and packet sockets). TCP may transmit from softirq or a timer, where
 * the current task is whoever was interrupted: userspace finds the holder
 * of the socket by its inode instead.
 */
static __always_inline void il_fill_sender(struct il_event *ev)
{
	__u64 v = bpf_get_current_pid_tgid();

	ev->pid = v >> 32;
	bpf_get_current_comm(ev->comm, sizeof(ev->comm));
	ev->flags |= IL_EV_TASK;
}

SEC("cgroup_skb/egress")
int il_guard_egress(struct __sk_buff *skb)
{
	struct il_rl_key key = {};
	struct il_pkt p = {};
	struct il_config *cfg;
	struct il_record *rec;
	struct bpf_sock *sk;
	__u64 netns;
	__u8 kind;

	if (!il_parse_net(skb, &p) || !il_protected(&p))
		return 1;
	cfg = il_cfg();
	netns = bpf_get_netns_cookie(skb);
	if (daemon_mark && skb->mark == daemon_mark && il_host_netns(cfg, netns))
		return 1;
	if (!cfg || cfg->mode == IL_MODE_OFF)
		return 1;
	sk = skb->sk;
	if (sk)
		sk = bpf_sk_fullsock(sk);
	kind = sk && sk->type == SOCK_RAW ? IL_KIND_RAW_SOCKET : IL_KIND_GUARD_DROP;

	key.a = bpf_skb_cgroup_id(skb);
	key.b = netns;
	key.c = bpf_get_socket_uid(skb);
	key.kind = kind;
	rec = il_begin(cfg, &key, bpf_ktime_get_boot_ns());
	if (rec) {
		rec->ev.kind = kind;
		rec->ev.action = il_action(cfg);
		il_fill_pkt(&rec->ev, &p);
		if (sk) {
			il_fill_sock(&rec->ev, skb, sk);
			if (sk->type == SOCK_RAW)
				il_fill_sender(&rec->ev);
		}
		il_submit(&key, rec);
	}
	return cfg->mode == IL_MODE_ENFORCE ? 0 : 1;
}

static __always_inline int il_guard_tc(struct __sk_buff *skb, int eth)
{
	struct il_rl_key key = {};
	struct il_pkt p = {};
	struct il_config *cfg;
	struct il_record *rec;
	struct bpf_sock *sk;
	int ok;

	ok = eth ? il_parse_eth(skb, &p) : il_parse_l3(skb, &p);
	if (!ok || !il_protected(&p))
		return TCX_NEXT;
	if (daemon_mark && skb->mark == daemon_mark)
		return TCX_NEXT;
	cfg = il_cfg();
	if (!cfg || cfg->mode == IL_MODE_OFF)
		return TCX_NEXT;
	sk = skb->sk;
	if (sk)
		sk = bpf_sk_fullsock(sk);
	/*
	 * A local IP socket under the enforcement cgroup was judged by the
	 * cgroup_skb program already (and let through as the daemon's, or in
	 * monitor mode after reporting it).
	 */
	if (sk && (sk->family == AF_INET || sk->family == AF_INET6) &&
	    bpf_skb_ancestor_cgroup_id(skb, cfg->enforce_cgroup_level) == cfg->enforce_cgroup_id)
		return TCX_NEXT;

	__builtin_memcpy(&key.a, &p.src[0], 8);
	__builtin_memcpy(&key.b, &p.src[2], 8);
	key.c = skb->ifindex;
	key.kind = IL_KIND_TC_DROP;
	rec = il_begin(cfg, &key, bpf_ktime_get_boot_ns());
	if (rec) {
		rec->ev.kind = IL_KIND_TC_DROP;
		rec->ev.action = il_action(cfg);
		rec->ev.ifindex = skb->ifindex;
		il_fill_pkt(&rec->ev, &p);
		if (sk) {
			il_fill_sock(&rec->ev, skb, sk);
			/* A packet socket transmits in its sender's system call. */
			if (sk->family == 17 /* AF_PACKET */)
				il_fill_sender(&rec->ev);
		}
		il_submit(&key, rec);
	}
	return cfg->mode == IL_MODE_ENFORCE ? TC_ACT_SHOT : TCX_NEXT;
}

SEC("tc/egress")
int il_guard_tc_eth(struct __sk_buff *skb)
{
	return il_guard_tc(skb, 1);
}

SEC("tc/egress")
int il_guard_tc_l3(struct __sk_buff *skb)
{
	return il_guard_tc(skb, 0);
}

/*
 * Whether a unix socket may connect to a protected socket: interlockd's
 * (marked, in its network namespace) or a process of an allowed cgroup.
 */
static __always_inline int il_unix_allowed(struct bpf_sock_addr *ctx,
					   const struct il_config *cfg)
{
	__u64 cg = bpf_get_current_cgroup_id();
	__u32 mark = 0;

	if (bpf_map_lookup_elem(&il_unix_allow, &cg))
		return 1;
	if (daemon_mark == 0)
		return 0;
	if (bpf_getsockopt(ctx, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)))
		return 0;
	return mark == daemon_mark && il_host_netns(cfg, bpf_get_netns_cookie(ctx));
}

/* bpf_loop state: scan a unix path for its end and last component. */
struct il_scan {
	const char *path;
	__u32 len;   /* bytes given to connect */
	__u32 end;   /* string length */
	__u32 start; /* offset of the last component */
};

static long il_scan_step(__u64 i, struct il_scan *s)
{
	char c;

	if (i >= s->len || i >= UNIX_PATH_MAX)
		return 1;
	c = s->path[i];
	if (c == 0)
		return 1;
	if (c == '/')
		s->start = i + 1;
	s->end = i + 1;
	return 0;
}

SEC("cgroup/connect_unix")
int il_guard_unix(struct bpf_sock_addr *ctx)
{
	struct bpf_sock_addr_kern *sa = bpf_cast_to_kern_ctx(ctx);
	struct il_scan scan = {};
	struct il_unix_key key = {};
	char path[UNIX_PATH_MAX];
	struct il_rl_key rk = {};
	struct sockaddr_un *un;
	struct il_config *cfg;
	struct il_record *rec;
	const char *name;
	__u64 len, n;

	cfg = il_cfg();
	if (!cfg || cfg->mode == IL_MODE_OFF)
		return 1;
	len = sa->uaddrlen;
	if (len <= 2)
		return 1;
	len -= 2; /* sun_family */
	if (len > UNIX_PATH_MAX)
		len = UNIX_PATH_MAX;
	un = bpf_rdonly_cast(sa->uaddr, bpf_core_type_id_kernel(struct sockaddr_un));
	name = un->sun_path;
	/* uaddr is a sockaddr_storage: all of sun_path is readable. */
	if (bpf_probe_read_kernel(path, sizeof(path), name))
		return 1;

	if (path[0] == 0) {
		/* Abstract: the whole name, len bytes. */
		n = len;
		scan.end = len;
	} else {
		/* A path: up to the first NUL; its last component is matched. */
		scan.path = path;
		scan.len = len;
		bpf_loop(UNIX_PATH_MAX, il_scan_step, &scan, 0);
		if (scan.start >= scan.end)
			return 1;
		n = scan.end - scan.start;
		name += scan.start;
	}
	if (n == 0 || n > UNIX_PATH_MAX)
		return 1;
	if (bpf_probe_read_kernel(key.name, n, name))
		return 1;
	if (!bpf_map_lookup_elem(&il_unix_names, &key))
		return 1;
	if (il_unix_allowed(ctx, cfg))
		return 1;

	rk.a = bpf_get_current_cgroup_id();
	rk.b = bpf_get_netns_cookie(ctx);
	rk.c = (__u32)bpf_get_current_uid_gid();
	rk.kind = IL_KIND_UNIX_SOCKET;
	rec = il_begin(cfg, &rk, bpf_ktime_get_boot_ns());
	if (rec) {
		rec->ev.kind = IL_KIND_UNIX_SOCKET;
		rec->ev.action = il_action(cfg);
		rec->ev.family = AF_UNIX;
		rec->ev.cgroup_id = rk.a;
		rec->ev.netns_cookie = rk.b;
		rec->ev.cookie = bpf_get_socket_cookie(ctx);
		rec->ev.sock_type = ctx->type;
		rec->ev.sock_family = AF_UNIX;
		rec->ev.flags = IL_EV_CGROUP | IL_EV_NETNS | IL_EV_COOKIE;
		n = scan.end;
		if (n <= UNIX_PATH_MAX)
			bpf_probe_read_kernel(rec->ev.path, n, un->sun_path);
		il_fill_task(&rec->ev);
		il_submit(&rk, rec);
	}
	if (cfg->mode != IL_MODE_ENFORCE)
		return 1;
	bpf_set_retval(-EPERM);
	return 0;
}

SEC("cgroup/setsockopt")
int il_guard_sockopt(struct bpf_sockopt *ctx)
{
	struct il_rl_key rk = {};
	struct il_config *cfg;
	struct il_record *rec;
	int *val;

	if (ctx->level != SOL_PACKET || ctx->optname != PACKET_QDISC_BYPASS)
		return 1;
	val = ctx->optval;
	if ((void *)(val + 1) > ctx->optval_end || *val == 0)
		return 1; /* turning it off is fine */
	cfg = il_cfg();
	if (!cfg || cfg->mode == IL_MODE_OFF)
		return 1;

	rk.a = bpf_get_current_cgroup_id();
	rk.b = bpf_get_netns_cookie(ctx);
	rk.c = (__u32)bpf_get_current_uid_gid();
	rk.kind = IL_KIND_PACKET_BYPASS;
	rec = il_begin(cfg, &rk, bpf_ktime_get_boot_ns());
	if (rec) {
		rec->ev.kind = IL_KIND_PACKET_BYPASS;
		rec->ev.action = il_action(cfg);
		rec->ev.cgroup_id = rk.a;
		rec->ev.netns_cookie = rk.b;
		rec->ev.flags = IL_EV_CGROUP | IL_EV_NETNS;
		il_fill_task(&rec->ev);
		il_submit(&rk, rec);
	}
	return cfg->mode == IL_MODE_ENFORCE ? 0 : 1;
}
