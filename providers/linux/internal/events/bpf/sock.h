/* Included twice by events.bpf.c: with R(p, f) a direct load ((p)->f)
 * and RB(p, f) a direct bitfield read, for sockets the kernel handed over
 * typed (tracepoint arguments), and with R and RB CO-RE probe reads, for
 * sockets found through memory reads. The functions are named with
 * SUFFIX. */

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)

/* our_tcp returns the configuration if sk is a full TCP socket of the
 * recorded namespace, else NULL. */
static __always_inline const struct config *CAT(our_tcp, SUFFIX)(const struct sock *sk)
{
	if (!sk)
		return NULL;
	u8 st = R(sk, __sk_common.skc_state);
	if (st == TCP_TIME_WAIT || st == TCP_NEW_SYN_RECV)
		return NULL; /* a minisocket: none of the full socket's members */
	if (R(sk, sk_protocol) != IPPROTO_TCP)
		return NULL;
	const struct config *c = get_config();
	if (!c)
		return NULL;
	struct net *net = R(sk, __sk_common.skc_net.net);
	if (R(net, ns.inum) != c->netns)
		return NULL;
	return c;
}

/* family_wanted reports whether the configuration's families let sk's
 * records through; v6only is sk's IPV6_V6ONLY. */
static __always_inline bool CAT(family_wanted, SUFFIX)(const struct config *c, const struct sock *sk, u16 family,
							bool v6only)
{
	if (family == AF_INET)
		return c->families & FAMILY_IPV4;
	if (family != AF_INET6)
		return false;
	if (c->families & FAMILY_IPV6)
		return true;
	if (!(c->families & FAMILY_DUAL_STACK) || v6only)
		return false;
	u64 a[2];
	BPF_CORE_READ_INTO(&a, sk, __sk_common.skc_v6_rcv_saddr);
	return !(a[0] | a[1]);
}

/* emit writes a record about sk if the configuration wants it. */
static __always_inline void CAT(emit, SUFFIX)(const struct config *c, const struct sock *sk, u8 kind, u8 old, u8 new,
					       u8 flags, u64 now, u64 cookie, u64 birth, const struct owner *owner,
					       const struct owner *prev)
{
	if (!c->tracing)
		return;
	u16 family = R(sk, __sk_common.skc_family);
	/* inet_sport, not skc_num: the kernel clears skc_num when it puts
	 * the port back, before the change to CLOSE is traced. Both are 0
	 * on CLOSE -> SYN-SENT, before connect() picks an ephemeral port. */
	u16 sport = bpf_ntohs(BPF_CORE_READ((const struct inet_sock *)sk, inet_sport));
	u16 dport = bpf_ntohs(R(sk, __sk_common.skc_dport));
	if (!wanted(c, sport, dport, old, new))
		return;
	bool v6only = family == AF_INET6 && RB(sk, __sk_common.skc_ipv6only);
	if (!CAT(family_wanted, SUFFIX)(c, sk, family, v6only))
		return;
	u32 zero = 0;
	u64 *lost = bpf_map_lookup_elem(&counters, &zero);
	if (!lost)
		return;
	struct record *r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (!r) {
		__sync_fetch_and_add(lost, 1);
		return;
	}
	r->lost = *lost;
	r->ts = now;
	r->cookie = cookie;
	r->birth = birth;
	r->owner = *owner;
	r->prev = *prev;
	if (family == AF_INET6) {
		BPF_CORE_READ_INTO(&r->saddr, sk, __sk_common.skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO(&r->daddr, sk, __sk_common.skc_v6_daddr);
	} else {
		u32 s = R(sk, __sk_common.skc_rcv_saddr), d = R(sk, __sk_common.skc_daddr);
		__builtin_memset(&r->saddr, 0, sizeof(r->saddr));
		__builtin_memset(&r->daddr, 0, sizeof(r->daddr));
		__builtin_memcpy(&r->saddr, &s, 4);
		__builtin_memcpy(&r->daddr, &d, 4);
	}
	struct socket *sock = R(sk, sk_socket);
	r->ino = sock ? BPF_CORE_READ((struct socket_alloc *)sock, vfs_inode.i_ino) : 0;
	r->uid = R(sk, sk_uid.val);
	r->ifindex = R(sk, __sk_common.skc_bound_dev_if);
	r->sport = sport;
	r->dport = dport;
	r->family = family;
	r->kind = kind;
	r->oldstate = old;
	r->newstate = new;
	r->flags = flags | (v6only ? FLAG_V6ONLY : 0);
	__builtin_memset(&r->pad, 0, sizeof(r->pad));
	/* Waking the reader for every record costs the writer an irq_work
	 * and a wakeup each; the reader reads every few milliseconds by
	 * itself. Wake it only when the ring fills past wake_at: the record
	 * that crosses that mark (or one of the few reserved beside it on
	 * other CPUs) wakes it, later ones do not: a reader that is behind
	 * is awake and reading already, and it sleeps only once the ring is
	 * empty, so the next crossing finds it asleep. */
	u64 avail = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
	u64 wake = avail >= wake_at && avail < wake_at + WAKE_WINDOW ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
	bpf_ringbuf_submit(r, wake);
}
