// Package fditer lists the socket descriptors of every process through a
// BPF program on the kernel's task_file iterator (Linux 5.8+).
//
// Open reads the running kernel's BTF (btf.go: the id of
// bpf_iter_task_file and the offsets of the few members the program
// reads), assembles the program for that layout (program.go), loads it
// with bpf(2) and attaches it to the iterator (bpf_linux.go, with the
// attribute layouts of attr.go). Scan then runs it over every process and
// ScanProcess over one (Linux 6.1+); each reports (tgid, fd, inode) for
// every socket descriptor. No compiler and no BPF library are needed:
// docs/linux.md gives the measured reason for loading by hand.
//
// The decoders and the assembler are pure and build on every OS; Open and
// the scans exist on Linux only.
package fditer
