/* SPDX-License-Identifier: (GPL-2.0-only OR MIT) */
/*
 * Shared by redirect.c and guard.c: the guard's configuration, the alert
 * events both report through one ring buffer, and the per-source rate limit
 * in front of it. The Go side (package redirect) loads the redirect object
 * first and hands these maps to the guard object, so both use one instance.
 * Keep every field naturally aligned (bpf2go mirrors the layouts).
 */
#ifndef INTERLOCK_GUARD_H
#define INTERLOCK_GUARD_H

#include "redirect.h"

#define AF_UNIX 1
#define SOCK_DGRAM 2
#define SOCK_RAW 3
#define EPERM 1

/* il_config.mode: what the guard does with a bypass attempt. */
#define IL_MODE_OFF 0     /* nothing (the guard programs are detached) */
#define IL_MODE_MONITOR 1 /* let it through, report it as detected */
#define IL_MODE_ENFORCE 2 /* refuse or drop it, report it as blocked */

/* il_event.kind */
#define IL_KIND_RAW_SOCKET 1       /* cgroup_skb: packet from a SOCK_RAW socket */
#define IL_KIND_GUARD_DROP 2       /* cgroup_skb: packet from another socket */
#define IL_KIND_TC_DROP 3          /* tc: forwarded, AF_PACKET or foreign packet */
#define IL_KIND_FOREIGN_NETNS 4    /* connect from another network namespace */
#define IL_KIND_REDIRECT_REFUSED 5 /* connect4/6 refused the redirect */
#define IL_KIND_UNIX_SOCKET 6      /* connect to a protected unix socket */
#define IL_KIND_PACKET_BYPASS 7    /* setsockopt(PACKET_QDISC_BYPASS) */

/* il_event.action */
#define IL_ACT_BLOCKED 1
#define IL_ACT_DETECTED 2

/* il_event.flags: which fields the kernel could fill reliably. */
#define IL_EV_TASK 1    /* pid, comm, start_boottime: the task that acted */
#define IL_EV_UID 2     /* uid (and gid with IL_EV_TASK) */
#define IL_EV_CGROUP 4  /* cgroup_id */
#define IL_EV_NETNS 8   /* netns_cookie */
#define IL_EV_COOKIE 16 /* cookie: the sending socket */
#define IL_EV_INODE 32  /* inode: the sending socket's inode */
#define IL_EV_SRC 64    /* src_addr, src_port */
#define IL_EV_GID 128   /* gid: the acting task's */

/* Set by userspace; one entry. */
struct il_config {
	__u64 host_netns_cookie;  /* interlockd's network namespace; 0 unknown */
	__u64 enforce_cgroup_id;  /* the cgroup the programs are attached to */
	__u64 rl_window_ns;       /* per-source dedup window; 0 disables it */
	__u32 enforce_cgroup_level; /* its depth below the cgroup2 root */
	__u32 mode;               /* IL_MODE_* */
	__u32 rl_budget;          /* events per second and CPU; 0 unlimited */
	__u32 pad;
};

/* One bypass attempt (or count of them), as userspace receives it. */
struct il_event {
	__u64 boot_ns;        /* bpf_ktime_get_boot_ns() */
	__u64 cookie;         /* socket cookie */
	__u64 cgroup_id;
	__u64 netns_cookie;
	__u64 start_boottime; /* of the task, with IL_EV_TASK */
	__u32 src_addr[4];    /* IPv4-mapped for IPv4 */
	__u32 dst_addr[4];
	__u32 pid;            /* tgid */
	__u32 uid;
	__u32 gid;
	__u32 count;          /* attempts this event stands for */
	__u32 ifindex;        /* tc: the interface */
	__u32 flags;          /* IL_EV_* */
	__u32 inode;          /* the sending socket's inode */
	__u16 src_port;       /* network byte order */
	__u16 dst_port;       /* network byte order */
	__u16 family;         /* AF_INET, AF_INET6 or AF_UNIX */
	__u8 kind;            /* IL_KIND_* */
	__u8 action;          /* IL_ACT_* */
	__u8 proto;           /* IP protocol */
	__u8 sock_type;       /* SOCK_* of the sender, 0 unknown */
	__u16 sock_family;    /* AF_* of the sender's socket, 0 unknown */
	char comm[16];
	char path[108];       /* unix socket path as given to connect */
	__u32 pad2;
};

/*
 * A ring buffer record and a rate-limit entry share this layout, so an
 * event built in the ring buffer is stored as the entry's template as is.
 */
struct il_record {
	__u64 last_ns;    /* when the last event for this source was sent */
	__u64 suppressed; /* attempts since then, not yet reported */
	struct il_event ev;
};

/* Rate-limit key: kind and who (cgroup, netns, uid; tc: source address). */
struct il_rl_key {
	__u64 a;
	__u64 b;
	__u32 c;
	__u32 kind;
};

/* Kernel-side counters (per CPU), read by userspace for metrics. */
struct il_stats {
	__u64 lost;        /* ring buffer full: attempts not reported */
	__u64 deduped;     /* folded into a later event's count */
	__u64 over_budget; /* deferred because of the per-CPU budget */
};

struct il_budget {
	__u64 window_start;
	__u64 n;
};

/* Address-only key of il_prot_addrs: prefixlen covers addr only. */
struct il_addr_key {
	__u32 prefixlen;
	__u32 addr[4];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct il_config);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} il_conf SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} il_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct il_rl_key);
	__type(value, struct il_record);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} il_alert_rl SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct il_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} il_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct il_budget);
} il_budget SEC(".maps");

/* Protected addresses without port, for packets whose port is not visible. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 4096);
	__type(key, struct il_addr_key);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} il_prot_addrs SEC(".maps");

static __always_inline struct il_config *il_cfg(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&il_conf, &zero);
}

static __always_inline struct il_stats *il_stats_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&il_counters, &zero);
}

/* The guard's action for an attempt in the current mode. */
static __always_inline __u8 il_action(const struct il_config *cfg)
{
	return cfg && cfg->mode == IL_MODE_MONITOR ? IL_ACT_DETECTED : IL_ACT_BLOCKED;
}

/* Whether another event fits into this CPU's budget for the current second. */
static __always_inline int il_within_budget(const struct il_config *cfg, __u64 now)
{
	struct il_budget *b;
	__u32 zero = 0;

	if (!cfg || cfg->rl_budget == 0)
		return 1;
	b = bpf_map_lookup_elem(&il_budget, &zero);
	if (!b)
		return 1;
	if (now - b->window_start >= 1000000000ULL) {
		b->window_start = now;
		b->n = 0;
	}
	if (b->n >= cfg->rl_budget)
		return 0;
	b->n++;
	return 1;
}

/*
 * Start reporting an attempt by key. Returns a zeroed ring buffer record
 * for the caller to fill and pass to il_submit, or NULL when the attempt
 * was folded into the source's rate-limit entry (reported later, with the
 * count, by the next event or by userspace's flush).
 */
static __always_inline struct il_record *il_begin(const struct il_config *cfg,
						  const struct il_rl_key *key,
						  __u64 now)
{
	struct il_record *v, *rec;
	struct il_stats *st;
	__u64 window = cfg ? cfg->rl_window_ns : 0;
	__u64 prior = 0;

	v = bpf_map_lookup_elem(&il_alert_rl, key);
	if (v) {
		if (window && now - v->last_ns < window) {
			__sync_fetch_and_add(&v->suppressed, 1);
			st = il_stats_get();
			if (st)
				st->deduped++;
			return 0;
		}
		prior = v->suppressed;
	}
	if (!il_within_budget(cfg, now)) {
		st = il_stats_get();
		if (st)
			st->over_budget++;
		if (v)
			__sync_fetch_and_add(&v->suppressed, 1);
		return 0;
	}
	rec = bpf_ringbuf_reserve(&il_events, sizeof(*rec), 0);
	if (!rec) {
		st = il_stats_get();
		if (st)
			st->lost++;
		return 0;
	}
	__builtin_memset(rec, 0, sizeof(*rec));
	rec->last_ns = now;
	rec->ev.boot_ns = now;
	rec->ev.count = 1 + (__u32)prior;
	return rec;
}

/* Store rec as the source's template and send it. */
static __always_inline void il_submit(const struct il_rl_key *key, struct il_record *rec)
{
	bpf_map_update_elem(&il_alert_rl, key, rec, BPF_ANY);
	bpf_ringbuf_submit(rec, 0);
}

/* Whether cookie is interlockd's network namespace (unknown counts as yes). */
static __always_inline int il_host_netns(const struct il_config *cfg, __u64 cookie)
{
	return !cfg || cfg->host_netns_cookie == 0 || cfg->host_netns_cookie == cookie;
}

/* Fill the current task's identity into ev (process context only). */
static __always_inline void il_fill_task(struct il_event *ev)
{
	struct task_struct *task;
	__u64 v;

	v = bpf_get_current_pid_tgid();
	ev->pid = v >> 32;
	v = bpf_get_current_uid_gid();
	ev->uid = (__u32)v;
	ev->gid = v >> 32;
	bpf_get_current_comm(ev->comm, sizeof(ev->comm));
	task = bpf_get_current_task_btf();
	ev->start_boottime = task->group_leader->start_boottime;
	ev->flags |= IL_EV_TASK | IL_EV_UID | IL_EV_GID;
}

#endif /* INTERLOCK_GUARD_H */
