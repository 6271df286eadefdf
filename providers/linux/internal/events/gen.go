package events

// The BPF object is generated from bpf/events.bpf.c and committed, so that
// neither go build nor go test needs clang. To regenerate (clang, llvm and
// libbpf-dev installed): go generate ./providers/linux/internal/events
//go:generate go run github.com/cilium/ebpf/cmd/bpf2go -cc clang -cflags "-O2 -g -Wall -Werror -mcpu=v3" -target bpfel,bpfeb -tags linux -type record -type config -type owner tracer bpf/events.bpf.c -- -I/usr/include
