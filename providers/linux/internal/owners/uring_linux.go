package owners

import (
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// statRing stats descriptor links in batches through io_uring
// (IORING_OP_STATX): one system call per batch instead of one per
// descriptor. On this kind of machine a system call's entry and exit
// (page-table isolation) is a third of the cost of stat-ing a
// /proc/PID/fd/N link, so a batch costs about a third less CPU per
// descriptor. Where io_uring is unavailable (old kernel, seccomp,
// kernel.io_uring_disabled), newStatRing fails and the caller stats one
// link at a time.
type statRing struct {
	fd       int
	ring     []byte // the SQ and CQ rings (one mapping)
	sqes     []byte
	sqTail   *uint32
	sqMask   uint32
	sqArray  uint32 // offset of the SQ index array in ring
	cqHead   *uint32
	cqTail   *uint32
	cqMask   uint32
	cqes     uint32 // offset of the CQEs in ring
	bufs     []unix.Statx_t
	results  []statResult
	entries  int
	disabled bool
}

// statResult is one link's outcome: its inode and whether it is a socket,
// or the errno.
type statResult struct {
	ino    uint64
	isSock bool
	errno  unix.Errno
}

// ringEntries is the batch size.
const ringEntries = 256

const (
	ioringOpStatx        = 21
	ioringEnterGetEvents = 1
	ioringOffSQEs        = 0x10000000
	ioringFeatSingleMmap = 1
	sqeLen               = 64
	cqeLen               = 16
)

// uringParams is struct io_uring_params.
type uringParams struct {
	sqEntries, cqEntries, flags, sqThreadCPU, sqThreadIdle, features, wqFD uint32
	resv                                                                   [3]uint32
	sqOff                                                                  [10]uint32 // head tail ring_mask ring_entries flags dropped array resv1 user_addr(u64)
	cqOff                                                                  [10]uint32 // head tail ring_mask ring_entries overflow cqes flags resv1 user_addr(u64)
}

// uringSQE is struct io_uring_sqe as IORING_OP_STATX uses it.
type uringSQE struct {
	opcode, flags uint8
	ioprio        uint16
	fd            int32  // directory
	addr2         uint64 // struct statx *
	addr          uint64 // path
	len           uint32 // mask
	statxFlags    uint32
	userData      uint64
	_             [3]uint64
}

// newStatRing sets up a ring of ringEntries entries.
func newStatRing() (*statRing, error) {
	var p uringParams
	fd, _, e := unix.Syscall(unix.SYS_IO_URING_SETUP, ringEntries, uintptr(unsafe.Pointer(&p)), 0)
	if e != 0 {
		return nil, e
	}
	r := &statRing{fd: int(fd), entries: int(p.sqEntries)}
	fail := func(err error) (*statRing, error) { r.close(); return nil, err }
	if p.features&ioringFeatSingleMmap == 0 || r.entries < 1 {
		return fail(unix.EOPNOTSUPP)
	}
	size := max(p.sqOff[6]+p.sqEntries*4, p.cqOff[5]+p.cqEntries*cqeLen)
	var err error
	if r.ring, err = unix.Mmap(r.fd, 0, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE); err != nil {
		return fail(err)
	}
	if r.sqes, err = unix.Mmap(r.fd, ioringOffSQEs, int(p.sqEntries)*sqeLen, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE); err != nil {
		return fail(err)
	}
	u32 := func(off uint32) *uint32 { return (*uint32)(unsafe.Pointer(&r.ring[off])) }
	r.sqTail, r.sqMask, r.sqArray = u32(p.sqOff[1]), *u32(p.sqOff[2]), p.sqOff[6]
	r.cqHead, r.cqTail, r.cqMask, r.cqes = u32(p.cqOff[0]), u32(p.cqOff[1]), *u32(p.cqOff[2]), p.cqOff[5]
	r.bufs = make([]unix.Statx_t, r.entries)
	r.results = make([]statResult, r.entries)
	return r, nil
}

func (r *statRing) close() {
	if r.sqes != nil {
		unix.Munmap(r.sqes)
	}
	if r.ring != nil {
		unix.Munmap(r.ring)
	}
	unix.Close(r.fd)
}

// stat stats (following the links) up to len(r.results) NUL-terminated
// names relative to dirfd and returns their results, in order. The names
// must stay valid until it returns. An error means the ring itself failed.
func (r *statRing) stat(dirfd int, names []*byte) ([]statResult, error) {
	n := len(names)
	tail := atomic.LoadUint32(r.sqTail)
	for k, name := range names {
		idx := (tail + uint32(k)) & r.sqMask
		*(*uringSQE)(unsafe.Pointer(&r.sqes[idx*sqeLen])) = uringSQE{
			opcode:     ioringOpStatx,
			fd:         int32(dirfd),
			addr2:      uint64(uintptr(unsafe.Pointer(&r.bufs[k]))),
			addr:       uint64(uintptr(unsafe.Pointer(name))),
			len:        unix.STATX_TYPE | unix.STATX_INO,
			statxFlags: unix.AT_STATX_DONT_SYNC,
			userData:   uint64(k),
		}
		*(*uint32)(unsafe.Pointer(&r.ring[r.sqArray+idx*4])) = idx
	}
	atomic.StoreUint32(r.sqTail, tail+uint32(n))
	toSubmit := n
	for got := 0; got < n; {
		head := atomic.LoadUint32(r.cqHead)
		for ; head != atomic.LoadUint32(r.cqTail); head++ {
			cqe := r.ring[r.cqes+(head&r.cqMask)*cqeLen:]
			k := *(*uint64)(unsafe.Pointer(&cqe[0]))
			res := *(*int32)(unsafe.Pointer(&cqe[8]))
			if k >= uint64(n) {
				continue
			}
			out := &r.results[k]
			*out = statResult{}
			if res < 0 {
				out.errno = unix.Errno(-res)
			} else {
				out.ino, out.isSock = r.bufs[k].Ino, r.bufs[k].Mode&unix.S_IFMT == unix.S_IFSOCK
			}
			got++
		}
		atomic.StoreUint32(r.cqHead, head)
		if got == n {
			break
		}
		submitted, _, e := unix.Syscall6(unix.SYS_IO_URING_ENTER, uintptr(r.fd), uintptr(toSubmit), uintptr(n-got), ioringEnterGetEvents, 0, 0)
		switch {
		case e == unix.EINTR:
		case e != 0:
			return nil, e
		default:
			toSubmit -= int(submitted)
		}
	}
	return r.results[:n], nil
}
