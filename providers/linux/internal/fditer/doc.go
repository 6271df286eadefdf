// Package fditer lists the socket descriptors of every process through a
// BPF program on the kernel's task_file iterator: the program is assembled
// from the running kernel's BTF and loaded with bpf(2).
package fditer
