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

// progLoadAttempts is how many times a program load that fails with
// EAGAIN is made, as libbpf does (PROG_LOAD_ATTEMPTS): the verifier gives
// up with EAGAIN when a signal is pending, and the Go runtime signals its
// threads to preempt goroutines (with a process signalling itself without
// pause, 7 of 300 loads failed so before any retry).
const progLoadAttempts = 5

// progLoader issues BPF_PROG_LOAD; tests replace it to inject failures.
type progLoader func(attr *progLoadAttr) (int, error)

// sysProgLoad is the progLoader of the kernel. It blocks the asynchronous
// signals of its thread for the call, so that the verifier is not
// interrupted by one (pending signals are delivered right after): under a
// process signalling itself without pause, retries alone still lost 5 of
// 300 loads, as signals come in bursts.
func sysProgLoad(attr *progLoadAttr) (fd int, err error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var old unix.Sigset_t
	block := asyncSignals()
	if err := unix.PthreadSigmask(unix.SIG_BLOCK, &block, &old); err != nil {
		return bpf(unix.BPF_PROG_LOAD, attr)
	}
	defer unix.PthreadSigmask(unix.SIG_SETMASK, &old, nil)
	return bpf(unix.BPF_PROG_LOAD, attr)
}

// asyncSignals is every signal but those a fault of the thread raises.
func asyncSignals() unix.Sigset_t {
	var set unix.Sigset_t
	for i := range set.Val {
		set.Val[i] = ^set.Val[i]
	}
	for _, sig := range []unix.Signal{unix.SIGSEGV, unix.SIGBUS, unix.SIGFPE, unix.SIGILL, unix.SIGTRAP, unix.SIGSYS} {
		n := uint(sig) - 1
		bits := uint(unsafe.Sizeof(set.Val[0])) * 8
		set.Val[n/bits] &^= 1 << (n % bits)
	}
	return set
}

// loadProgram loads the instructions as a BPF_TRACE_ITER program attached
// to BTF function funcID of vmlinux, with sysProgLoad (see
// loadProgramWith).
func loadProgram(insns []byte, funcID uint32) (int, error) {
	return loadProgramWith(sysProgLoad, insns, funcID)
}

// loadProgramWith loads the program with sys, trying a load that fails
// with EAGAIN up to progLoadAttempts times. A program refused otherwise
// (but for EPERM) is loaded again with the verifier's log on, and the
// error quotes the log's end; should that load succeed (the refusal was
// transient), its program is the answer. It never leaves a program
// descriptor open but the one it returns.
func loadProgramWith(sys progLoader, insns []byte, funcID uint32) (int, error) {
	lic := []byte(license + "\x00")
	load := func(logBuf []byte) (fd int, err error) {
		for range progLoadAttempts {
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
			if fd, err = sys(&attr); !errors.Is(err, unix.EAGAIN) {
				break
			}
		}
		runtime.KeepAlive(insns)
		runtime.KeepAlive(lic)
		runtime.KeepAlive(logBuf)
		if errors.Is(err, unix.EAGAIN) {
			err = fmt.Errorf("%w (%d attempts)", err, progLoadAttempts)
		}
		return fd, err
	}
	fd, err := load(nil)
	if err == nil {
		return fd, nil
	}
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EAGAIN) {
		return -1, err
	}
	logBuf := make([]byte, 64<<10)
	fd, err2 := load(logBuf)
	if err2 == nil {
		return fd, nil
	}
	msg := bytes.TrimRight(logBuf[:max(bytes.IndexByte(logBuf, 0), 0)], "\n")
	if len(msg) > 512 {
		msg = msg[len(msg)-512:]
	}
	if len(msg) > 0 {
		return -1, fmt.Errorf("%w; verifier: %q", err, msg)
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
