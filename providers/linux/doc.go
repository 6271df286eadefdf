// Package linux is the tcptable provider for Linux.
//
// It enumerates TCP sockets over netlink sock_diag (NETLINK_SOCK_DIAG,
// SOCK_DIAG_BY_FAMILY with an inet_diag_req_v2 for AF_INET and AF_INET6),
// pushing the query's states into the kernel's idiag_states bitmask, and
// falls back to /proc/net/tcp and /proc/net/tcp6 where sock_diag is not
// available. Owners come from one of two scans (OwnerScan). Where the
// caller may load BPF programs (root), the kernel itself lists every
// socket descriptor of every process in one pass: a small program on its
// task_file iterator, assembled from the running kernel's BTF and loaded
// with bpf(2), no compiler or BPF library involved. Elsewhere each socket
// inode is looked up among the descriptors in /proc/PID/fd. Either way the
// processes of the queried network namespace come first, and descriptor
// lists are cached across calls so that a steady-state poll only searches
// for sockets it has not seen before.
//
// The byte decoders (sock_diag messages, /proc/net/tcp lines, /proc/PID
// files, the kernel's BTF, the iterator's records) and the program's
// assembler are pure functions in files without build tags, so they are
// tested and fuzzed on every OS. On other OSes New returns an error
// wrapping tcptable.ErrNotSupported.
//
// docs/linux.md describes the sources, privileges and field meanings.
package linux
