/* SPDX-License-Identifier: (GPL-2.0-only OR MIT) */
/*
 * The kernel types the tracer reads, reduced to the members it uses. Every
 * struct is marked preserve_access_index: clang records each member access
 * as a CO-RE relocation, and the loader (github.com/cilium/ebpf) rewrites
 * the offsets from the running kernel's BTF (/sys/kernel/btf/vmlinux), so
 * one object runs on every kernel that has these members, wherever they
 * are. Member names must be the kernel's; layouts and sizes here do not
 * matter.
 */
#ifndef TCPTABLE_TYPES_H
#define TCPTABLE_TYPES_H

typedef unsigned char __u8;
typedef unsigned short __u16;
typedef unsigned int __u32;
typedef unsigned long long __u64;
typedef signed char __s8;
typedef short __s16;
typedef int __s32;
typedef long long __s64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u32 __wsum;
typedef __u8 u8;
typedef __u16 u16;
typedef __u32 u32;
typedef __u64 u64;
typedef _Bool bool;
#define true 1
#define false 0

enum bpf_map_type {
	BPF_MAP_TYPE_HASH = 1,
	BPF_MAP_TYPE_ARRAY = 2,
	BPF_MAP_TYPE_SK_STORAGE = 24,
	BPF_MAP_TYPE_RINGBUF = 27,
};

enum {
	BPF_ANY = 0,
	BPF_NOEXIST = 1,
	BPF_F_NO_PREALLOC = 1,
	BPF_F_MMAPABLE = 1024,
	BPF_SK_STORAGE_GET_F_CREATE = 1,
	BPF_RB_NO_WAKEUP = 1,
	BPF_RB_FORCE_WAKEUP = 2,
	BPF_RB_AVAIL_DATA = 0,
	BPF_RB_RING_SIZE = 1,
};

#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)

struct ns_common {
	unsigned int inum;
};

struct net {
	struct ns_common ns;
};

typedef struct {
	struct net *net;
} possible_net_t;

struct in6_addr {
	union {
		__u8 u6_addr8[16];
	} in6_u;
};

typedef struct {
	__s64 counter;
} atomic64_t;

struct sock_common {
	__be32 skc_daddr;
	__be32 skc_rcv_saddr;
	__be16 skc_dport;
	__u16 skc_num;
	unsigned short skc_family;
	volatile unsigned char skc_state;
	unsigned char skc_ipv6only : 1; /* IPV6_V6ONLY; a bitfield: read with BPF_CORE_READ_BITFIELD */
	int skc_bound_dev_if;
	possible_net_t skc_net;
	struct in6_addr skc_v6_daddr;
	struct in6_addr skc_v6_rcv_saddr;
	atomic64_t skc_cookie;
};

typedef struct {
	unsigned int val;
} kuid_t;

struct inode {
	unsigned short i_mode;
	unsigned long i_ino;
};

struct file {
	struct inode *f_inode;
	void *private_data;
};

struct fdtable {
	unsigned int max_fds;
	struct file **fd;
};

struct files_struct {
	struct fdtable *fdt;
};

struct socket {
	struct sock *sk;
};

struct socket_alloc {
	struct socket socket;
	struct inode vfs_inode;
};

struct sock {
	struct sock_common __sk_common;
	struct socket *sk_socket;
	kuid_t sk_uid;
	u16 sk_protocol;
	u8 sk_shutdown;
};

struct inet_sock {
	struct sock sk;
	__be16 inet_sport;
};

struct task_struct {
	unsigned int flags;
	int tgid;
	struct task_struct *group_leader;
	u64 start_boottime;
	char comm[16];
	struct files_struct *files;
};

/* The system call number in the registers sys_exit passes, per
 * architecture; the loader resolves whichever exists. */
struct pt_regs {
};

struct pt_regs___x86 {
	unsigned long orig_ax;
};

struct pt_regs___arm64 {
	u64 syscallno;
};

struct pt_regs___riscv {
	unsigned long a7;
};

#pragma clang attribute pop

#endif
