package fditer

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"

	"golang.org/x/sys/unix"
)

// vmlinuxBTF is where the running kernel publishes its BTF.
const vmlinuxBTF = "/sys/kernel/btf/vmlinux"

// initPIDNS is the link text of /proc/PID/ns/pid in the initial PID
// namespace (PROC_PID_INIT_INO), the only one where the iterator's task
// tgid is the PID that /proc shows.
const initPIDNS = "pid:[4026531836]"

// Iter is a loaded descriptor iterator: the program and the link that
// attaches it to the task_file iterator. Each scan creates an iterator
// instance from the link and reads it to the end.
type Iter struct {
	order      binary.ByteOrder
	prog       int
	link       int
	perProcess bool // the kernel iterates one process at a time (6.1+)
	buf        []byte
}

// fdIterBuf is the read buffer: the kernel fills at most its seq_file
// buffer (eight pages) per read.
const fdIterBuf = 64 << 10

// Open loads the descriptor iterator. It fails where the kernel or
// the caller cannot run it: not 64-bit, no BTF or no task_file iterator,
// no CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN), a PID namespace other
// than the initial one (the iterator reports global PIDs), or a procfs at
// procFD (the resolver's root) that is not the initial namespace's.
func Open(procFD int) (*Iter, error) {
	if strconv.IntSize != 64 {
		return nil, fmt.Errorf("descriptor iterator: needs a 64-bit kernel and process (%s)", runtime.GOARCH)
	}
	if err := BPFCapable(); err != nil {
		return nil, fmt.Errorf("descriptor iterator: %w", err)
	}
	var link [32]byte
	n, err := unix.Readlinkat(procFD, "self/ns/pid", link[:])
	if err != nil {
		return nil, fmt.Errorf("descriptor iterator: PID namespace: %w", err)
	}
	if got := string(link[:n]); got != initPIDNS {
		return nil, fmt.Errorf("descriptor iterator: PID namespace %q is not the initial one %q (in a container, or a procfs of another namespace)", got, initPIDNS)
	}
	b, release, err := readBTF()
	if err != nil {
		return nil, fmt.Errorf("descriptor iterator: %w", err)
	}
	layout, err := parseIterLayout(b)
	release()
	if err != nil {
		return nil, fmt.Errorf("descriptor iterator: %s: %w", vmlinuxBTF, err)
	}
	insns, err := fdIterProgram(layout)
	if err != nil {
		return nil, fmt.Errorf("descriptor iterator: %w", err)
	}
	it := &Iter{order: layout.order, prog: -1, link: -1}
	if it.prog, err = loadProgram(insns, layout.funcID); err != nil {
		return nil, fmt.Errorf("descriptor iterator: load program: %w", err)
	}
	if it.link, err = linkIter(it.prog, 0); err != nil {
		it.Close()
		return nil, fmt.Errorf("descriptor iterator: attach to task_file: %w", err)
	}
	if fd, err := linkIter(it.prog, uint32(os.Getpid())); err == nil {
		it.perProcess = true
		unix.Close(fd)
	}
	return it, nil
}

// PerProcess reports whether the kernel can iterate the tasks of one
// process (Linux 6.1+), which ScanProcess needs.
func (it *Iter) PerProcess() bool { return it.perProcess }

// Capabilities that loading a tracing program needs (linux/capability.h).
const (
	capSysAdmin = 21
	capPerfmon  = 38
	capBPF      = 39
)

// BPFCapable reports, as an error wrapping EPERM that names what is
// missing, whether the calling thread may load BPF tracing programs:
// CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN; without them the kernel
// refuses the program anyway. Open checks it before the BTF is read; the
// event tracer checks it too before it reads anything.
func BPFCapable() error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capget: %w", err)
	}
	has := func(c uint) bool { return data[c/32].Effective&(1<<(c%32)) != 0 }
	if has(capSysAdmin) || (has(capBPF) && has(capPerfmon)) {
		return nil
	}
	return fmt.Errorf("needs CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN: %w", unix.EPERM)
}

// readBTF maps the kernel's BTF (Linux 6.16+), or reads it where it cannot
// be mapped (sysfs serves it a page per read); release unmaps it.
func readBTF() (b []byte, release func(), err error) {
	f, err := os.Open(vmlinuxBTF)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	if size := st.Size(); size > 0 && size <= maxBTFSize {
		if b, err := unix.Mmap(int(f.Fd()), 0, int(size), unix.PROT_READ, unix.MAP_PRIVATE); err == nil {
			return b, func() { unix.Munmap(b) }, nil
		}
	}
	b, err = io.ReadAll(io.LimitReader(f, maxBTFSize+1))
	if err == nil && len(b) > maxBTFSize {
		err = fmt.Errorf("%s is larger than %d MiB", vmlinuxBTF, maxBTFSize>>20)
	}
	return b, func() {}, err
}

// maxBTFSize caps what is read of the kernel's BTF (5.5 MB on Linux 6.18).
const maxBTFSize = 64 << 20

// Scan runs the iterator over every process and calls fn for every socket
// descriptor.
func (it *Iter) Scan(ctx context.Context, fn func(pid, fd uint32, ino uint64)) error {
	return it.read(ctx, it.link, fn)
}

// ScanProcess runs the iterator over the tasks of process pid only, if
// PerProcess.
func (it *Iter) ScanProcess(ctx context.Context, pid uint32, fn func(pid, fd uint32, ino uint64)) error {
	link, err := linkIter(it.prog, pid)
	if err != nil {
		return fmt.Errorf("descriptor iterator: attach to process %d: %w", pid, err)
	}
	defer unix.Close(link)
	return it.read(ctx, link, fn)
}

// read creates an iterator instance from link and reads it to the end.
func (it *Iter) read(ctx context.Context, link int, fn func(pid, fd uint32, ino uint64)) error {
	fd, err := createIter(link)
	if err != nil {
		return fmt.Errorf("descriptor iterator: create: %w", err)
	}
	defer unix.Close(fd)
	if it.buf == nil {
		it.buf = make([]byte, fdIterBuf)
	}
	have := 0 // bytes of a record begun by the previous read
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, err := unix.Read(fd, it.buf[have:])
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return fmt.Errorf("descriptor iterator: read: %w", err)
		}
		if n == 0 {
			if have != 0 {
				return fmt.Errorf("descriptor iterator: output ends inside a record (%d of %d bytes)", have, fdRecordSize)
			}
			return nil
		}
		n += have
		used := parseFDRecords(it.buf[:n], it.order, fn)
		have = copy(it.buf, it.buf[used:n])
	}
}

// Close releases the link and the program.
func (it *Iter) Close() error {
	var errs []error
	for _, fd := range []int{it.link, it.prog} {
		if fd >= 0 {
			errs = append(errs, unix.Close(fd))
		}
	}
	it.link, it.prog = -1, -1
	return errors.Join(errs...)
}
