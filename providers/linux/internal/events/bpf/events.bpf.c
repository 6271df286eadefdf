// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * tcptable's TCP event tracer. See ../doc.go and docs/linux.md.
 *
 * Only tracepoints are used (BTF-typed ones, and the syscalls ones where
 * tracefs is mounted): kprobes may be compiled out, and
 * fentry/fexit and LSM programs may be refused (a kernel locked down for
 * integrity, as the machine this was written on). The programs:
 *
 *   tp_btf/inet_sock_set_state   every state change of a full TCP socket,
 *                                in whatever context the kernel makes it
 *   tp_btf/tcp_receive_reset, tp_btf/tcp_send_reset
 *                                mark a socket that ends by a reset, which
 *                                tells such an end from a TIME-WAIT hand-over
 *   tracepoint/syscalls/sys_exit_accept4 and sys_exit_accept (where
 *   tracefs is mounted), or else tp_btf/sys_exit
 *                                accept() and accept4() returning a TCP
 *                                socket: the accepting process owns it
 *                                (attached only while a trace runs)
 *
 * Owners are taken from the current task only where the kernel makes the
 * change in a process's own call on its socket, never in softirq or a
 * timer: CLOSE -> SYN-SENT (tcp_v4_connect/tcp_v6_connect, from connect()
 * or sendmsg(MSG_FASTOPEN)), CLOSE -> LISTEN (inet_csk_listen_start, from
 * listen()), ESTABLISHED or SYN-RECV -> FIN-WAIT-1 and CLOSE-WAIT ->
 * LAST-ACK (tcp_close_state, from close() or shutdown() of a descriptor
 * holder), and the return of accept(). Each of those runs under
 * lock_sock(), which may sleep, so the kernel never makes them in
 * interrupt context. A kernel thread's call makes the kernel the owner.
 * A socket without a struct socket (a child in the accept queue, an orphan
 * after close, a TIME-WAIT minisocket) is owned by the kernel.
 *
 * Per socket, socket storage (`sk_info`) keeps the birth time, a reset
 * mark and, while a trace runs, the owner; `children` holds the children
 * of listeners by socket cookie until accepted (while a trace runs);
 * `tw_births` keeps the birth time of the connections TIME-WAIT
 * minisockets take over, by socket cookie (as sock_diag's idiag_cookie),
 * in rings per CPU, oldest first out. While no trace runs the state-change
 * program does only that (births_only). Records go to the ring buffer
 * `events` only while userspace traces (config.tracing); a failed
 * reservation increments counters[0], and every
 * record carries that counter as it was when the record was reserved, so
 * userspace reports a loss before any record reserved after it.
 */
#include "types.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define PF_KTHREAD 0x00200000
#define RCV_SHUTDOWN 1
#define S_IFMT 00170000
#define S_IFSOCK 0140000

enum {
	TCP_ESTABLISHED = 1,
	TCP_SYN_SENT = 2,
	TCP_SYN_RECV = 3,
	TCP_FIN_WAIT1 = 4,
	TCP_FIN_WAIT2 = 5,
	TCP_TIME_WAIT = 6,
	TCP_CLOSE = 7,
	TCP_CLOSE_WAIT = 8,
	TCP_LAST_ACK = 9,
	TCP_LISTEN = 10,
	TCP_CLOSING = 11,
	TCP_NEW_SYN_RECV = 12,
};

/* Owner kinds. */
enum {
	OWNER_UNKNOWN = 0, /* not attributed (the socket predates the recorder) */
	OWNER_PROCESS = 1, /* pid, start and comm are set */
	OWNER_KERNEL = 2,  /* no process holds it */
};

/* Record kinds. */
enum {
	KIND_STATE = 1, /* a full socket changed state (newstate CLOSE: it ended) */
	KIND_OWNER = 2, /* the owner changed; oldstate == newstate */
};

struct owner {
	u64 start; /* the process's start time (group leader's start_boottime) */
	u32 pid;   /* thread group ID */
	u8 kind;
	u8 pad[3];
	char comm[16]; /* the group leader's comm, as /proc/PID/comm */
};

struct sock_info {
	u64 birth; /* boot-clock ns of the first state change out of CLOSE */
	struct owner owner;
	u8 reset; /* a reset was sent or received: the socket ends here */
	u8 child; /* CHILD_*: born in a listener's accept queue */
	u8 pad[2];
	u32 epoch; /* config.epoch at its birth */
};

struct record {
	u64 ts;     /* bpf_ktime_get_boot_ns() of the change */
	u64 cookie; /* socket cookie */
	u64 birth;  /* boot-clock ns, 0 unknown */
	u64 lost;   /* counters[0] when this record was reserved */
	struct owner owner;
	struct owner prev;
	u8 saddr[16]; /* network order; IPv4 in the first 4 bytes */
	u8 daddr[16];
	u32 ino;     /* socket inode, 0 without a struct socket */
	u32 uid;     /* sk_uid */
	u32 ifindex; /* sk_bound_dev_if */
	u16 sport;   /* host order */
	u16 dport;   /* host order */
	u16 family;
	u8 kind;
	u8 oldstate;
	u8 newstate;
	u8 flags; /* FLAG_* */
	u8 pad[2];
};

/* A minisocket took the connection over. */
#define FLAG_TIME_WAIT 1
/* An AF_INET6 socket with IPV6_V6ONLY on (sock_diag's
 * INET_DIAG_SKV6ONLY): one on :: with it off is dual stack. */
#define FLAG_V6ONLY 2

struct config {
	u64 netns;  /* inode of the network namespace recorded */
	u32 states; /* kernel states: a record's old or new state must be one */
	u16 lport, rport, port;
	u8 families; /* FAMILY_*: which sockets' records are written */
	u8 tracing;  /* write records */
	u8 pad[2];
	u32 epoch; /* how many times tracing started */
};

/* config.families bits. An AF_INET6 socket passes with FAMILY_IPV6, or
 * with FAMILY_DUAL_STACK if it is dual stack: bound to :: with
 * IPV6_V6ONLY off (it accepts IPv4 too, and an IPv4 query lists it). */
#define FAMILY_IPV4 1
#define FAMILY_IPV6 2
#define FAMILY_DUAL_STACK 4

/* The system call numbers of accept and accept4 for this architecture,
 * set by the loader (-1: none). */
const volatile long accept_nr = -1;
const volatile long accept4_nr = -1;

/* The ring's fill level, in bytes, at which a record wakes the reader
 * (set by the loader: an eighth of the ring), and the width of the band
 * above it in which records still wake it (records reserved at the same
 * time on several CPUs see the level past the mark together). */
const volatile u64 wake_at = 1 << 19;

/* Set once a socket is born: until then Table need not ask sock_diag for
 * the birth of every socket (it would find none). */
volatile u8 born_any;
#define WAKE_WINDOW 4096

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct config);
} settings SEC(".maps");

/* counters[0]: records lost (ring full); counters[1]: sockets not
 * recorded (no memory for their storage). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, u32);
	__type(value, u64);
} counters SEC(".maps");

/* Per socket, in the socket itself (freed with it): its birth time first,
 * which sock_diag reports with the socket when asked
 * (INET_DIAG_REQ_SK_BPF_STORAGES), so a table dump carries creation times
 * at no extra cost; then its owner and reset mark. One storage: each is
 * an allocation when the socket is born and a free when it is destroyed,
 * the largest part of what the recorder costs a connection. */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct sock_info);
} sk_info SEC(".maps");

/* sock_info.child: a child of a listener born while a trace ran has an
 * entry in children (CHILD_LISTED); one born while only births were
 * recorded has none (CHILD_UNLISTED) until accept's exit adds one. */
enum {
	CHILD_LISTED = 1,
	CHILD_UNLISTED = 2,
};

/* Children of listeners, by cookie, from their creation until a process
 * accepts them (accept's exit finds its socket through memory reads, and
 * so cannot use the socket storage) and the next state change adopts the
 * acceptor as owner, or until they end. */
struct child {
	u64 birth;
	struct owner owner;
	u8 reported; /* accept's exit reported the owner change */
	u8 pad[7];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1 << 16); /* children waiting in accept queues, and sockets older than the trace accepted during it */
	__type(key, u64);
	__type(value, struct child);
} children SEC(".maps");

/* The births of the connections TIME-WAIT minisockets took over, by
 * socket cookie (as sock_diag reports the minisocket's): one ring per CPU
 * of tw_slots slots (a power of two), each a cookie and a birth, whose
 * count of slots written is kept in a slot after all the rings (its
 * cookie). Minisockets live a fixed time in the order they were made, so
 * the ring keeps the latest, as an LRU map would, and a write is four
 * exchanges and a store, with no lock, hash or allocation. Only the CPU's
 * own program writes its ring, and never twice at once (the kernel does
 * not nest a program on a CPU). Userspace maps the table and reads the
 * slots written since it last looked: a slot's cookie is zeroed before
 * its birth is written and set after, and the count is raised last, so a
 * birth read between two equal readings of its cookie is that cookie's. */
struct tw_slot {
	u64 cookie;
	u64 birth;
};

const volatile u32 tw_slots = 1 << 14;
const volatile u32 tw_rings = 2;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 2 * (1 << 14) + 2); /* set by the loader: tw_rings rings and their counts */
	__type(key, u32);
	__type(value, struct tw_slot);
} tw_births SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20); /* set by the loader */
} events SEC(".maps");

/* Force BTF for the record so that bpf2go generates its Go type. */
const struct record *unused_record __attribute__((unused));

static __always_inline const struct config *get_config(void)
{
	u32 zero = 0;
	return bpf_map_lookup_elem(&settings, &zero);
}

static __always_inline void count(u32 i)
{
	u64 *n = bpf_map_lookup_elem(&counters, &i);
	if (n)
		__sync_fetch_and_add(n, 1);
}

/* wanted checks the port and state conditions (the family's is
 * family_wanted's). */
static __always_inline bool wanted(const struct config *c, u16 sport, u16 dport, u8 old, u8 new)
{
	if (!c->tracing)
		return false;
	if (c->lport && sport != c->lport)
		return false;
	if (c->rport && dport != c->rport)
		return false;
	if (c->port && sport != c->port && dport != c->port)
		return false;
	return ((c->states >> (old & 31)) | (c->states >> (new & 31))) & 1;
}

/* current_owner describes the current task. Only called where the kernel
 * runs in the owner's own call (see the top of this file). */
static __always_inline void current_owner(struct owner *o)
{
	struct task_struct *t = bpf_get_current_task_btf();
	__builtin_memset(o, 0, sizeof(*o));
	if (t->flags & PF_KTHREAD) {
		o->kind = OWNER_KERNEL;
		return;
	}
	struct task_struct *leader = t->group_leader;
	o->kind = OWNER_PROCESS;
	o->pid = t->tgid;
	o->start = leader->start_boottime;
	BPF_CORE_READ_INTO(&o->comm, leader, comm);
}

static __always_inline bool same_owner(const struct owner *a, const struct owner *b)
{
	return a->kind == b->kind && a->pid == b->pid && a->start == b->start;
}

#define R(p, f) ((p)->f)
#define RB(p, f) BPF_CORE_READ_BITFIELD(p, f)
#define SUFFIX _typed
#include "sock.h"
#undef R
#undef RB
#undef SUFFIX
#define R(p, f) BPF_CORE_READ(p, f)
#define RB(p, f) BPF_CORE_READ_BITFIELD_PROBED(p, f)
#define SUFFIX _probed
#include "sock.h"
#undef R
#undef RB
#undef SUFFIX

/* owned_by_caller reports whether the kernel makes this change only in a
 * call of a process on its own socket (see the top of this file). */
static __always_inline bool owned_by_caller(u8 old, u8 new)
{
	return (old == TCP_CLOSE && (new == TCP_SYN_SENT || new == TCP_LISTEN)) ||
	       ((old == TCP_ESTABLISHED || old == TCP_SYN_RECV) && new == TCP_FIN_WAIT1) ||
	       (old == TCP_CLOSE_WAIT && new == TCP_LAST_ACK);
}

/* keep_tw_birth keeps the birth of the connection a TIME-WAIT minisocket
 * with this cookie took over. */
static __always_inline void keep_tw_birth(u64 cookie, u64 birth)
{
	u32 cpu = bpf_get_smp_processor_id();
	u32 c = tw_rings * tw_slots + cpu;
	struct tw_slot *count = bpf_map_lookup_elem(&tw_births, &c);
	if (!count)
		return;
	u64 n = count->cookie;
	u32 i = cpu * tw_slots + ((u32)n & (tw_slots - 1));
	struct tw_slot *s = bpf_map_lookup_elem(&tw_births, &i);
	if (!s)
		return;
	__sync_lock_test_and_set(&s->cookie, 0);
	*(volatile u64 *)&s->birth = birth;
	__sync_lock_test_and_set(&s->cookie, cookie);
	__sync_lock_test_and_set(&count->cookie, n + 1);
}

/* unlist removes the entry an ending socket may have in children: one
 * listed at its birth while a trace ran, or by accept's exit while a trace
 * ran (a child born before the trace, a socket older than the recorder).
 * While no trace runs, a socket that no trace has seen since its birth has
 * none, and the map is not touched. */
static __always_inline void unlist(const struct config *c, struct sock_info *si, u64 cookie)
{
	if (si && si->birth) {
		if (!si->child)
			return;
		if (!c->tracing && si->child == CHILD_UNLISTED && si->epoch == c->epoch)
			return;
	} else if (!c->tracing && !c->epoch) {
		return;
	}
	bpf_map_delete_elem(&children, &cookie);
	if (si)
		si->child = 0;
}

/* births_only is on_state while no trace runs: it keeps what Table needs,
 * the birth of each socket and of the connections TIME-WAIT minisockets
 * take over, and nothing else (no owner, no record, no clock reading or
 * cookie but where needed). */
static __always_inline void births_only(const struct config *c, const struct sock *sk, u8 old, u8 new, bool born)
{
	struct sock_info *si;
	if (born) {
		si = bpf_sk_storage_get(&sk_info, (void *)sk, NULL, BPF_SK_STORAGE_GET_F_CREATE);
		if (!si) {
			count(1);
			return;
		}
		__builtin_memset(&si->owner, 0, sizeof(si->owner));
		si->birth = bpf_ktime_get_boot_ns();
		if (!born_any)
			born_any = 1;
		si->reset = 0;
		si->child = old == TCP_LISTEN ? CHILD_UNLISTED : 0;
		si->epoch = c->epoch;
		/* The cookie now: a TIME-WAIT minisocket copies its socket's
		 * cookie when it takes over, before the change to CLOSE is
		 * traced, and one made after that would not be its cookie. */
		bpf_get_socket_cookie((void *)sk);
		return;
	}
	if (new != TCP_CLOSE)
		return;
	si = bpf_sk_storage_get(&sk_info, (void *)sk, NULL, 0);
	u64 cookie = bpf_get_socket_cookie((void *)sk);
	unlist(c, si, cookie);
	if (si && (old == TCP_FIN_WAIT2 || old == TCP_CLOSING) && !si->reset && si->birth)
		keep_tw_birth(cookie, si->birth);
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(on_state, const struct sock *sk, int oldstate, int newstate)
{
	const struct config *c = our_tcp_typed(sk);
	if (!c)
		return 0;
	u8 old = oldstate, new = newstate;
	bool born = (old == TCP_CLOSE && new != TCP_CLOSE) || (old == TCP_LISTEN && new == TCP_SYN_RECV);
	if (!c->tracing) {
		births_only(c, sk, old, new, born);
		return 0;
	}
	u64 now = bpf_ktime_get_boot_ns();
	u64 cookie = bpf_get_socket_cookie((void *)sk);
	struct owner none = {}, kernel = {}, cur;
	kernel.kind = OWNER_KERNEL;
	bool orphan = sk->sk_socket == NULL;
	struct sock_info *si = bpf_sk_storage_get(&sk_info, (void *)sk, NULL, born ? BPF_SK_STORAGE_GET_F_CREATE : 0);
	if (born && !si)
		count(1);
	/* A socket born while only births were recorded has no owner
	 * (OWNER_UNKNOWN): userspace gives it the one its first snapshot
	 * found. */
	struct owner prev = si ? si->owner : none;
	if (born && si) {
		si->birth = now;
		if (!born_any)
			born_any = 1;
		si->reset = 0;
		si->owner = none;
		si->child = 0;
		si->epoch = c->epoch;
		if (old == TCP_LISTEN) {
			/* A child in the listener's accept queue. */
			struct child ch = {.birth = now, .owner = kernel};
			si->owner = kernel;
			si->child = bpf_map_update_elem(&children, &cookie, &ch, BPF_ANY) ? CHILD_UNLISTED : CHILD_LISTED;
		}
	}
	if (si && si->child && !orphan) {
		/* Accepted since: adopt the owner that accept's exit recorded
		 * (and reported, unless the child was born before the trace:
		 * then this record reports the change). */
		struct child *ch = bpf_map_lookup_elem(&children, &cookie);
		if (ch && ch->owner.kind == OWNER_PROCESS) {
			si->owner = ch->owner;
			if (ch->reported)
				prev = ch->owner;
			si->child = 0;
			bpf_map_delete_elem(&children, &cookie);
		}
	}
	if (owned_by_caller(old, new) && !orphan)
		current_owner(&cur);
	else if (orphan)
		cur = kernel;
	else
		cur = si ? si->owner : none; /* prev, or the owner just adopted */
	u64 birth = si ? si->birth : 0;
	u8 reported = new, flags = 0;
	if (new == TCP_CLOSE && (old == TCP_FIN_WAIT2 || old == TCP_CLOSING) && !(si && si->reset)) {
		/* tcp_time_wait() handed the connection to a minisocket: the
		 * row lives on, in TIME-WAIT (FIN-WAIT-2 if the peer's FIN has
		 * not come), owned by the kernel. */
		reported = old == TCP_CLOSING || (sk->sk_shutdown & RCV_SHUTDOWN) ? TCP_TIME_WAIT : TCP_FIN_WAIT2;
		cur = kernel;
		flags = FLAG_TIME_WAIT;
		if (birth)
			keep_tw_birth(cookie, birth);
	}
	if (si)
		si->owner = new == TCP_CLOSE ? none : cur;
	if (new == TCP_CLOSE)
		unlist(c, si, cookie);
	emit_typed(c, sk, KIND_STATE, old, reported, flags, now, cookie, birth, &cur, &prev);
	return 0;
}

/* mark_reset notes that sk ends by a reset rather than in TIME-WAIT. */
static __always_inline void mark_reset(const struct sock *sk)
{
	if (!our_tcp_typed(sk))
		return;
	struct sock_info *si = bpf_sk_storage_get(&sk_info, (void *)sk, NULL, BPF_SK_STORAGE_GET_F_CREATE);
	if (si)
		si->reset = 1;
}

SEC("tp_btf/tcp_receive_reset")
int BPF_PROG(on_receive_reset, const struct sock *sk)
{
	mark_reset(sk);
	return 0;
}

SEC("tp_btf/tcp_send_reset")
int BPF_PROG(on_send_reset, const struct sock *sk)
{
	mark_reset(sk);
	return 0;
}

/* syscall_nr returns the number of the system call whose exit this is, on
 * the architectures the loader knows (-1 elsewhere). regs is the
 * tracepoint's typed argument: direct loads, no probe reads. */
static __always_inline long syscall_nr(struct pt_regs *regs)
{
	if (bpf_core_field_exists(((struct pt_regs___x86 *)0)->orig_ax))
		return ((struct pt_regs___x86 *)regs)->orig_ax;
	if (bpf_core_field_exists(((struct pt_regs___arm64 *)0)->syscallno))
		return ((struct pt_regs___arm64 *)regs)->syscallno;
	if (bpf_core_field_exists(((struct pt_regs___riscv *)0)->a7))
		return ((struct pt_regs___riscv *)regs)->a7;
	return -1;
}

/* accepted attributes the socket of descriptor ret, which accept() or
 * accept4() of the current task returns, to the current task. */
static __always_inline void accepted(long ret)
{
	/* The new descriptor ret: its file, its socket. */
	struct task_struct *t = bpf_get_current_task_btf();
	struct fdtable *fdt = BPF_CORE_READ(t, files, fdt);
	if (!fdt || (unsigned long)ret >= BPF_CORE_READ(fdt, max_fds))
		return;
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *f = NULL;
	bpf_probe_read_kernel(&f, sizeof(f), &fds[ret]);
	if (!f || (BPF_CORE_READ(f, f_inode, i_mode) & S_IFMT) != S_IFSOCK)
		return;
	struct socket *sock = BPF_CORE_READ(f, private_data);
	struct sock *sk = sock ? BPF_CORE_READ(sock, sk) : NULL;
	if (!sk)
		return;
	u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family != AF_INET && family != AF_INET6)
		return;
	const struct config *c = our_tcp_probed(sk);
	if (!c)
		return;
	/* sk came from memory reads, not a typed argument: read its cookie
	 * rather than have bpf_get_socket_cookie make one. The state-change
	 * program made it when the kernel created the socket; a socket
	 * without one predates the recorder and is attributed at close. */
	u64 cookie = BPF_CORE_READ(sk, __sk_common.skc_cookie.counter);
	if (!cookie)
		return;
	struct owner cur;
	current_owner(&cur);
	struct child *ch = bpf_map_lookup_elem(&children, &cookie);
	if (!ch) {
		/* Born before the trace started (or the recorder): its next
		 * state change adopts this owner, and reports the change, if
		 * the recorder saw it born in the accept queue; its end
		 * removes the entry. */
		struct child fresh = {.owner = cur};
		bpf_map_update_elem(&children, &cookie, &fresh, BPF_NOEXIST);
		return;
	}
	struct owner prev = ch->owner;
	ch->owner = cur;
	ch->reported = 1;
	if (same_owner(&prev, &cur))
		return;
	u8 st = BPF_CORE_READ(sk, __sk_common.skc_state);
	emit_probed(c, sk, KIND_OWNER, st, st, 0, bpf_ktime_get_boot_ns(), cookie, ch->birth, &cur, &prev);
	return;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(on_sys_exit, struct pt_regs *regs, long ret)
{
	/* Every system call of the host passes here while a trace runs:
	 * return after as little as possible. */
	if (ret < 0)
		return 0;
	long nr = syscall_nr(regs);
	if (nr < 0 || (nr != accept4_nr && nr != accept_nr))
		return 0;
	accepted(ret);
	return 0;
}

/* The record of the syscalls:sys_exit_accept and sys_exit_accept4
 * tracepoints (their format file in tracefs). */
struct syscall_exit {
	u64 common;
	int nr;
	long ret;
};

/* Where tracefs is mounted, accept attribution uses the tracepoints of
 * the two system calls instead of tp_btf/sys_exit: the kernel then runs
 * no program at the exit of the other system calls (it checks a bitmap
 * of enabled calls: about 10 ns a call, against 30 for a program). */
SEC("tracepoint/syscalls/sys_exit_accept4")
int on_accept_exit(struct syscall_exit *ctx)
{
	long ret = ctx->ret;
	if (ret >= 0)
		accepted(ret);
	return 0;
}
