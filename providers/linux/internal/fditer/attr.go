package fditer

import (
	"structs"
	"unsafe"
)

// The attributes of the bpf(2) commands the loader issues: the members of
// union bpf_attr (include/uapi/linux/bpf.h, Linux 6.18) that each command
// reads, in order and with the kernel's sizes, so that Go lays them out
// as the kernel does. attr_test.go checks every offset and size against
// the UAPI's. The kernel reads as many bytes as it is told and takes what
// it does not know of as zero, and it refuses a longer attribute only if
// the bytes it does not know are not zero: these layouts work on every
// kernel that has the commands.

// ptr is an __aligned_u64 that holds a user-space pointer. The pointer is
// kept as an unsafe.Pointer, not as a number, so that the garbage collector
// keeps what it points to alive and the runtime updates it if it points
// into a goroutine stack that moves. The layout matches the kernel's on
// 64-bit platforms, the only ones the loader runs on (Open refuses the
// others).
type ptr struct {
	_ structs.HostLayout
	_ [8 - unsafe.Sizeof(uintptr(0))]byte
	p unsafe.Pointer
}

// ptrTo returns a ptr to the first element of s, or a null one if s is
// empty.
func ptrTo[T any](s []T) ptr {
	return ptr{p: unsafe.Pointer(unsafe.SliceData(s))}
}

// objNameLen is BPF_OBJ_NAME_LEN, the size of a program's name with its
// NUL.
const objNameLen = 16

// progLoadAttr is the BPF_PROG_LOAD member of union bpf_attr.
type progLoadAttr struct {
	_                  structs.HostLayout
	progType           uint32
	insnCnt            uint32
	insns              ptr
	license            ptr
	logLevel           uint32
	logSize            uint32
	logBuf             ptr
	kernVersion        uint32
	progFlags          uint32
	progName           [objNameLen]byte
	progIfindex        uint32
	expectedAttachType uint32
	progBTFFD          uint32
	funcInfoRecSize    uint32
	funcInfo           ptr
	funcInfoCnt        uint32
	lineInfoRecSize    uint32
	lineInfo           ptr
	lineInfoCnt        uint32
	attachBTFID        uint32 // the target's BTF id
	attachBTFObjFD     uint32 // union with attach_prog_fd; 0: vmlinux
	coreReloCnt        uint32
	fdArray            ptr
	coreRelos          ptr
	coreReloRecSize    uint32
	logTrueSize        uint32
	progTokenFD        int32
	fdArrayCnt         uint32
	signature          uint64
	signatureSize      uint32
	keyringID          int32
}

// linkCreateAttr is the BPF_LINK_CREATE member of union bpf_attr with the
// iterator's part (iter_info) of its union, padded to the member's size.
type linkCreateAttr struct {
	_           structs.HostLayout
	progFD      uint32
	targetFD    uint32 // union with target_ifindex
	attachType  uint32
	flags       uint32
	iterInfo    ptr // union bpf_iter_link_info *
	iterInfoLen uint32
	_           [36]byte
}

// iterLinkInfo is union bpf_iter_link_info as the task iterators read it
// (its task member; the union is as large as its cgroup member).
type iterLinkInfo struct {
	_     structs.HostLayout
	tid   uint32
	pid   uint32
	pidFD uint32
	_     uint32
}

// iterCreateAttr is the BPF_ITER_CREATE member of union bpf_attr.
type iterCreateAttr struct {
	_      structs.HostLayout
	linkFD uint32
	flags  uint32
}
