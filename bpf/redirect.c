// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * Interlock redirect: every TCP connect to a protected database endpoint
 * goes to interlockd instead.
 *
 *   connect4/6     protected dst? record origin in sk storage, rewrite dst
 *                  to the endpoint's interlockd listener (fail closed)
 *   sockops        client side established: copy origin into il_origins
 *                  keyed by the 4-tuple the daemon sees; delete on close
 *   getpeername4/6 redirected socket: report the original dst as peer
 *
 * interlockd's own upstream sockets carry SO_MARK == daemon_mark (in its
 * own network namespace) and are never redirected. A connect from another
 * network namespace to an endpoint whose listener is on loopback is refused
 * and reported (that loopback is not interlockd's). Refusals are reported
 * through il_events. See docs/redirect.md and docs/guard.md.
 */
#include "guard.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

/* Refuse the connect: the caller sees ECONNREFUSED, nothing is sent. */
static __always_inline int il_refuse(void)
{
	bpf_set_retval(-ECONNREFUSED);
	return 0;
}

/*
 * interlockd's upstream sockets carry the daemon mark (needs CAP_NET_ADMIN)
 * and live in interlockd's network namespace: root in a container's user
 * namespace may set marks on its own sockets, so a mark elsewhere counts
 * for nothing.
 */
static __always_inline int il_is_daemon(struct bpf_sock_addr *ctx,
					const struct il_config *cfg)
{
	__u32 mark = 0;

	if (daemon_mark == 0)
		return 0;
	if (bpf_getsockopt(ctx, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)))
		return 0;
	return mark == daemon_mark && il_host_netns(cfg, bpf_get_netns_cookie(ctx));
}

/* 127.0.0.0/8 (IPv4-mapped) or ::1. */
static __always_inline int il_is_loopback(const __u32 a[4])
{
	if (il_is_v4mapped(a))
		return (bpf_ntohl(a[3]) >> 24) == 127;
	return a[0] == 0 && a[1] == 0 && a[2] == 0 && a[3] == bpf_htonl(1);
}

/* Report a connect that was refused (kind IL_KIND_*), with who made it. */
static __always_inline void il_report_connect(struct bpf_sock_addr *ctx,
					      const struct il_config *cfg,
					      __u8 kind, const __u32 dst[4],
					      __u16 port)
{
	struct il_rl_key key = {};
	struct il_record *rec;
	__u64 now = bpf_ktime_get_boot_ns();
	__u64 netns = bpf_get_netns_cookie(ctx);
	__u64 cgroup = bpf_get_current_cgroup_id();

	key.a = cgroup;
	key.b = netns;
	key.c = (__u32)bpf_get_current_uid_gid();
	key.kind = kind;
	rec = il_begin(cfg, &key, now);
	if (!rec)
		return;
	rec->ev.kind = kind;
	rec->ev.action = IL_ACT_BLOCKED;
	rec->ev.cgroup_id = cgroup;
	rec->ev.netns_cookie = netns;
	rec->ev.cookie = bpf_get_socket_cookie(ctx);
	rec->ev.flags = IL_EV_CGROUP | IL_EV_NETNS | IL_EV_COOKIE;
	rec->ev.dst_addr[0] = dst[0];
	rec->ev.dst_addr[1] = dst[1];
	rec->ev.dst_addr[2] = dst[2];
	rec->ev.dst_addr[3] = dst[3];
	rec->ev.dst_port = port;
	rec->ev.family = il_is_v4mapped(dst) ? AF_INET : AF_INET6;
	rec->ev.proto = IPPROTO_TCP;
	rec->ev.sock_type = ctx->type;
	rec->ev.sock_family = ctx->family;
	il_fill_task(&rec->ev);
	il_submit(&key, rec);
}

/* Refuse and report. */
static __always_inline int il_refuse_report(struct bpf_sock_addr *ctx,
					    const struct il_config *cfg,
					    __u8 kind, const __u32 dst[4],
					    __u16 port)
{
	il_report_connect(ctx, cfg, kind, dst, port);
	return il_refuse();
}

/* Record who is connecting where. Runs in the connecting task's context. */
static __always_inline int il_record(struct bpf_sock_addr *ctx,
				     const __u32 dst[4], __u16 port,
				     const __u32 target[4], __u16 target_port,
				     __u16 family)
{
	struct bpf_sock *sk = ctx->sk;
	struct task_struct *task;
	struct il_origin *o;
	__u64 v;

	if (!sk)
		return -1;
	o = bpf_sk_storage_get(&il_sk_origin, sk, 0,
			       BPF_SK_STORAGE_GET_F_CREATE);
	if (!o)
		return -1;

	o->dst_addr[0] = dst[0];
	o->dst_addr[1] = dst[1];
	o->dst_addr[2] = dst[2];
	o->dst_addr[3] = dst[3];
	o->dst_port = port;
	o->target_addr[0] = target[0];
	o->target_addr[1] = target[1];
	o->target_addr[2] = target[2];
	o->target_addr[3] = target[3];
	o->target_port = target_port;
	o->family = family;

	v = bpf_get_current_pid_tgid();
	o->pid = v >> 32;
	v = bpf_get_current_uid_gid();
	o->uid = (__u32)v;
	o->gid = v >> 32;
	o->cgroup_id = bpf_get_current_cgroup_id();
	o->netns_cookie = bpf_get_netns_cookie(ctx);
	task = bpf_get_current_task_btf();
	o->start_boottime = task->group_leader->start_boottime;
	bpf_get_current_comm(o->comm, sizeof(o->comm));
	return 0;
}

SEC("cgroup/connect4")
int il_connect4(struct bpf_sock_addr *ctx)
{
	struct il_ep_key key = {};
	struct il_config *cfg;
	struct il_target *t;
	__u32 addr[4];
	__u16 port;

	if (ctx->type != SOCK_STREAM)
		return 1;

	key.prefixlen = IL_KEY_PORT_BITS + 128;
	key.port = (__u16)ctx->user_port;
	il_set_v4mapped(key.addr, ctx->user_ip4);
	t = bpf_map_lookup_elem(&il_endpoints, &key);
	if (!t)
		return 1;
	cfg = il_cfg();
	if (il_is_daemon(ctx, cfg))
		return 1;
	addr[0] = t->addr[0];
	addr[1] = t->addr[1];
	addr[2] = t->addr[2];
	addr[3] = t->addr[3];
	port = t->port;
	/* Another namespace's loopback is not interlockd's: refuse. */
	if (il_is_loopback(addr) && !il_host_netns(cfg, bpf_get_netns_cookie(ctx)))
		return il_refuse_report(ctx, cfg, IL_KIND_FOREIGN_NETNS, key.addr, key.port);
	/* An IPv4 socket cannot reach an IPv6 listener: refuse. */
	if (!il_is_v4mapped(addr))
		return il_refuse_report(ctx, cfg, IL_KIND_REDIRECT_REFUSED, key.addr, key.port);
	if (il_record(ctx, key.addr, key.port, addr, port, AF_INET))
		return il_refuse_report(ctx, cfg, IL_KIND_REDIRECT_REFUSED, key.addr, key.port);

	ctx->user_ip4 = addr[3];
	ctx->user_port = port;
	return 1;
}

SEC("cgroup/connect6")
int il_connect6(struct bpf_sock_addr *ctx)
{
	struct il_ep_key key = {};
	struct il_config *cfg;
	struct il_target *t;
	__u32 addr[4];
	__u16 port;

	if (ctx->type != SOCK_STREAM)
		return 1;

	/* IPv4-mapped destinations look up the IPv4 entries. */
	key.prefixlen = IL_KEY_PORT_BITS + 128;
	key.port = (__u16)ctx->user_port;
	key.addr[0] = ctx->user_ip6[0];
	key.addr[1] = ctx->user_ip6[1];
	key.addr[2] = ctx->user_ip6[2];
	key.addr[3] = ctx->user_ip6[3];
	t = bpf_map_lookup_elem(&il_endpoints, &key);
	if (!t)
		return 1;
	cfg = il_cfg();
	if (il_is_daemon(ctx, cfg))
		return 1;
	addr[0] = t->addr[0];
	addr[1] = t->addr[1];
	addr[2] = t->addr[2];
	addr[3] = t->addr[3];
	port = t->port;
	if (il_is_loopback(addr) && !il_host_netns(cfg, bpf_get_netns_cookie(ctx)))
		return il_refuse_report(ctx, cfg, IL_KIND_FOREIGN_NETNS, key.addr, key.port);
	/* An IPv4(-mapped) destination is redirected to an IPv4 listener only. */
	if (il_is_v4mapped(key.addr) && !il_is_v4mapped(addr))
		return il_refuse_report(ctx, cfg, IL_KIND_REDIRECT_REFUSED, key.addr, key.port);
	if (il_record(ctx, key.addr, key.port, addr, port, AF_INET6))
		return il_refuse_report(ctx, cfg, IL_KIND_REDIRECT_REFUSED, key.addr, key.port);

	ctx->user_ip6[0] = addr[0];
	ctx->user_ip6[1] = addr[1];
	ctx->user_ip6[2] = addr[2];
	ctx->user_ip6[3] = addr[3];
	ctx->user_port = port;
	return 1;
}

static __always_inline struct il_origin *il_origin_of(struct bpf_sock_addr *ctx)
{
	struct bpf_sock *sk = ctx->sk;

	if (!sk)
		return 0;
	return bpf_sk_storage_get(&il_sk_origin, sk, 0, 0);
}

SEC("cgroup/getpeername4")
int il_getpeername4(struct bpf_sock_addr *ctx)
{
	struct il_origin *o = il_origin_of(ctx);

	if (!o || o->family != AF_INET)
		return 1;
	/* Only while connected to the listener it was redirected to. */
	if (ctx->user_ip4 != o->target_addr[3] ||
	    (__u16)ctx->user_port != o->target_port)
		return 1;
	ctx->user_ip4 = o->dst_addr[3];
	ctx->user_port = o->dst_port;
	return 1;
}

SEC("cgroup/getpeername6")
int il_getpeername6(struct bpf_sock_addr *ctx)
{
	struct il_origin *o = il_origin_of(ctx);

	if (!o || o->family != AF_INET6)
		return 1;
	if (ctx->user_ip6[0] != o->target_addr[0] ||
	    ctx->user_ip6[1] != o->target_addr[1] ||
	    ctx->user_ip6[2] != o->target_addr[2] ||
	    ctx->user_ip6[3] != o->target_addr[3] ||
	    (__u16)ctx->user_port != o->target_port)
		return 1;
	ctx->user_ip6[0] = o->dst_addr[0];
	ctx->user_ip6[1] = o->dst_addr[1];
	ctx->user_ip6[2] = o->dst_addr[2];
	ctx->user_ip6[3] = o->dst_addr[3];
	ctx->user_port = o->dst_port;
	return 1;
}

/* The connection's 4-tuple as the accepting side sees it. */
static __always_inline void il_tuple_of(struct bpf_sock_ops *skops,
					struct il_tuple *key)
{
	if (skops->family == AF_INET) {
		il_set_v4mapped(key->client_addr, skops->local_ip4);
		il_set_v4mapped(key->listener_addr, skops->remote_ip4);
	} else {
		key->client_addr[0] = skops->local_ip6[0];
		key->client_addr[1] = skops->local_ip6[1];
		key->client_addr[2] = skops->local_ip6[2];
		key->client_addr[3] = skops->local_ip6[3];
		key->listener_addr[0] = skops->remote_ip6[0];
		key->listener_addr[1] = skops->remote_ip6[1];
		key->listener_addr[2] = skops->remote_ip6[2];
		key->listener_addr[3] = skops->remote_ip6[3];
	}
	/* local_port is host order; remote_port holds the be16 port << 16. */
	key->client_port = bpf_htons((__u16)skops->local_port);
	key->listener_port = (__u16)(skops->remote_port >> 16);
}

static __always_inline int il_same_addr(const __u32 a[4], const __u32 b[4])
{
	return a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[3] == b[3];
}

SEC("sockops")
int il_sockops(struct bpf_sock_ops *skops)
{
	struct il_tuple key = {};
	struct il_origin *o;
	struct bpf_sock *sk;
	__u32 op = skops->op;

	switch (op) {
	case BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB:
		sk = skops->sk;
		if (!sk)
			return 1;
		o = bpf_sk_storage_get(&il_sk_origin, sk, 0, 0);
		if (!o)
			return 1; /* not redirected */
		il_tuple_of(skops, &key);
		if (!il_same_addr(key.listener_addr, o->target_addr) ||
		    key.listener_port != o->target_port)
			return 1; /* reconnected elsewhere after a redirect */
		bpf_map_update_elem(&il_origins, &key, o, BPF_ANY);
		bpf_sock_ops_cb_flags_set(skops, skops->bpf_sock_ops_cb_flags |
						 BPF_SOCK_OPS_STATE_CB_FLAG);
		return 1;
	case BPF_SOCK_OPS_STATE_CB:
		/* Only redirected sockets have the state callback enabled. */
		if (skops->args[1] != BPF_TCP_CLOSE)
			return 1;
		il_tuple_of(skops, &key);
		bpf_map_delete_elem(&il_origins, &key);
		return 1;
	}
	return 1;
}
