// Package linux is the tcptable provider for Linux.
//
// It enumerates TCP sockets over netlink sock_diag (NETLINK_SOCK_DIAG,
// SOCK_DIAG_BY_FAMILY with an inet_diag_req_v2 for AF_INET and AF_INET6),
// pushing the query's states into the kernel's idiag_states bitmask, and
// falls back to /proc/net/tcp and /proc/net/tcp6 where sock_diag is not
// available. Owners come from /proc: each socket inode is looked up among
// the descriptors in /proc/PID/fd, processes of the queried network
// namespace first, and the result is cached across calls so that a
// steady-state poll only searches inodes it has not seen before.
//
// The byte decoders (sock_diag messages, /proc/net/tcp lines, /proc/PID
// files) are pure functions in files without build tags, so they are tested
// and fuzzed on every OS. On other OSes New returns an error wrapping
// tcptable.ErrNotSupported.
//
// docs/linux.md describes the sources, privileges and field meanings.
package linux
