// Package owners finds the processes that hold each socket of a TCP
// table.
//
// A Resolver is rooted at a procfs (/proc, or a copy such as a container's
// bind-mounted /host/proc). Begin lists the processes and reads the
// descriptors a poll needs before the table is known, so that it can run
// while the kernel dumps the sockets; Finish writes each row's PID,
// OtherPIDs, OwnerStatus and Module from what it found, searching further
// only for sockets still without an owner. Descriptors come from
// /proc/PID/fd (resolver_linux.go, scanner_linux.go; link stats batched
// through io_uring in uring_linux.go) or, after UseIter, from the kernel's
// descriptor iterator (bpf_linux.go, package fditer). Descriptor lists are
// cached per process (PID and start time) across polls and revalidated
// after an interval.
//
// The /proc decoders (procfs.go, dirent.go) are pure and build on every
// OS; the Resolver exists on Linux only.
package owners
