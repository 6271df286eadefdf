// Package linux is the tcptable provider for Linux. A Table call is three
// steps:
//
//  1. Dump the sockets (this package): netlink sock_diag (NETLINK_SOCK_DIAG,
//     SOCK_DIAG_BY_FAMILY with an inet_diag_req_v2 for AF_INET and
//     AF_INET6), the query's states pushed into the kernel's idiag_states
//     bitmask, both families at once; /proc/net/tcp and /proc/net/tcp6
//     where sock_diag is not available; in the caller's network namespace,
//     the one WithNetNS names, or every one with WithAllNetNS (a socket
//     kept inside each namespace, all dumped in parallel). Every row
//     carries its namespace (Connection.NetNS, NetNSName).
//  2. Find the owners (internal/owners), while the kernel dumps: where the
//     caller may load BPF programs (root), the kernel lists every socket
//     descriptor of every process in one pass through a small program on
//     its task_file iterator (internal/fditer: assembled from the running
//     kernel's BTF and loaded with bpf(2), no compiler or BPF library
//     involved); elsewhere each socket inode is looked up among the
//     descriptors in /proc/PID/fd (batched with io_uring). Either way the
//     processes of the queried network namespace come first, and
//     descriptor lists are cached across calls so that a steady-state poll
//     only searches for sockets it has not seen before. OwnerScan says
//     which scan is used.
//  3. Join: the resolver writes each row's owning PIDs, statuses, module
//     and container (from the owner's cgroup, internal/cgroup); rows the
//     query's PID or process conditions reject are dropped.
//
// Provider is also a tcptable.Killer: Kill ends a connection, listener or
// TIME-WAIT row with netlink SOCK_DESTROY, after a point lookup that finds
// exactly the row's socket (never the listener on its port), and verifies
// by its cookie that the kernel no longer has it.
//
// Errors say "tcptable/linux: " and the call (New, Table, Kill, Close) once, then
// the operation that failed; they wrap their causes (errno values,
// fs.ErrNotExist, context errors) and the tcptable sentinels: an option
// given an argument it cannot use makes New fail with tcptable.ErrInvalid,
// a dump the kernel keeps interrupting returns its rows with
// tcptable.ErrInconsistent.
//
// The byte decoders (sock_diag messages, /proc/net/tcp lines, /proc/PID
// files, the kernel's BTF, the iterator's records, the bpf(2) attributes)
// and the program's assembler are pure functions in files without build
// tags, so they are tested and fuzzed on every OS. On other OSes New
// returns an error wrapping tcptable.ErrNotSupported.
//
// docs/linux.md describes the sources, privileges and field meanings, and
// lists which file holds what.
package linux
