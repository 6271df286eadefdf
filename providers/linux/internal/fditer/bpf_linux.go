package fditer

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// bpf issues the bpf(2) system call cmd with attr, which the kernel reads
// (as many bytes as the type holds) and may write back.
func bpf[A progLoadAttr | linkCreateAttr | iterCreateAttr](cmd uintptr, attr *A) (int, error) {
	r, _, errno := unix.Syscall(unix.SYS_BPF, cmd, uintptr(unsafe.Pointer(attr)), unsafe.Sizeof(*attr))
	runtime.KeepAlive(attr)
	if errno != 0 {
		return -1, errno
	}
	return int(r), nil
}

// progName is the program's name, as bpftool and /proc/PID/fdinfo show it.
const progName = "tcptable_fds"

// license is the program's license: bpf_seq_write is GPL-only.
const license = "Dual MIT/GPL"

// loadProgram loads the instructions as a BPF_TRACE_ITER program attached
// to BTF function funcID of vmlinux. A program the verifier rejects is
// loaded again with its log on, and the error quotes the log's end.
func loadProgram(insns []byte, funcID uint32) (int, error) {
	lic := []byte(license + "\x00")
	load := func(logBuf []byte) (int, error) {
		attr := progLoadAttr{
			progType:           unix.BPF_PROG_TYPE_TRACING,
			insnCnt:            uint32(len(insns) / 8),
			insns:              ptrTo(insns),
			license:            ptrTo(lic),
			expectedAttachType: unix.BPF_TRACE_ITER,
			attachBTFID:        funcID, // of vmlinux: attachBTFObjFD 0
		}
		copy(attr.progName[:objNameLen-1], progName)
		if logBuf != nil {
			attr.logLevel, attr.logSize, attr.logBuf = 1, uint32(len(logBuf)), ptrTo(logBuf)
		}
		return bpf(unix.BPF_PROG_LOAD, &attr)
	}
	fd, err := load(nil)
	if err == nil || errors.Is(err, unix.EPERM) {
		return fd, err
	}
	logBuf := make([]byte, 64<<10)
	if _, err2 := load(logBuf); err2 != nil {
		msg := bytes.TrimRight(logBuf[:max(bytes.IndexByte(logBuf, 0), 0)], "\n")
		if len(msg) > 512 {
			msg = msg[len(msg)-512:]
		}
		if len(msg) > 0 {
			return -1, fmt.Errorf("%w; verifier: %q", err, msg)
		}
	}
	return -1, err
}

// linkIter attaches a loaded iterator program (BPF_LINK_CREATE): to every
// task with pid 0, else to the tasks of process pid (union
// bpf_iter_link_info's task.pid, Linux 6.1+).
func linkIter(prog int, pid uint32) (int, error) {
	attr := linkCreateAttr{progFD: uint32(prog), attachType: unix.BPF_TRACE_ITER}
	info := iterLinkInfo{pid: pid}
	if pid != 0 {
		attr.iterInfo = ptr{p: unsafe.Pointer(&info)}
		attr.iterInfoLen = uint32(unsafe.Sizeof(info))
	}
	return bpf(unix.BPF_LINK_CREATE, &attr)
}

// createIter creates an instance of the iterator that link attaches
// (BPF_ITER_CREATE): a descriptor whose reads run the program.
func createIter(link int) (int, error) {
	return bpf(unix.BPF_ITER_CREATE, &iterCreateAttr{linkFD: uint32(link)})
}
