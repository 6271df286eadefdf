// Package events records the life of the TCP sockets of one network
// namespace with BPF programs on the kernel's TCP state-change tracepoint
// (sock:inet_sock_set_state) and on the process-context calls that tell
// who owns a socket (connect, listen, accept, close), and reports it as
// Records read from a BPF ring buffer.
//
// The programs are written in C (bpf/events.bpf.c) with CO-RE
// relocations, compiled by bpf2go into the committed objects
// tracer_bpfel.o and tracer_bpfeb.o, and loaded with github.com/cilium/ebpf;
// building or testing this package needs no compiler beyond Go.
//
// Besides the events, the programs keep per socket, while a Recorder is
// open, its birth time in the socket's own storage (a socket storage map,
// BirthStorageFD, which a sock_diag dump can report with each socket),
// and the births of the connections TIME-WAIT minisockets take over in
// rings mapped into the process, by socket cookie (what sock_diag reports
// as idiag_cookie; TimeWaitBirths). While a trace runs they also keep
// each socket's owner.
//
// Record decoding (Decode), the TIME-WAIT birth table's reader and the
// clock conversion are pure functions in files without build tags; the
// loader is Linux only.
package events
