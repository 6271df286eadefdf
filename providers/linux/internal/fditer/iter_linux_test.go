package fditer

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/tcptable/tcptable/internal/netnstest"
	"github.com/tcptable/tcptable/internal/testenv"
)

// openFDIterOrSkip loads the descriptor iterator or skips with a hint.
func openFDIterOrSkip(t *testing.T) *Iter {
	t.Helper()
	procFD, err := unix.Open("/proc", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	require.NoError(t, err)
	defer unix.Close(procFD)
	it, err := Open(procFD)
	if err != nil {
		testenv.SkipOrFail(t, "BPF descriptor iterator not available (%v): run as root on Linux 5.8+ with BTF", err)
	}
	t.Cleanup(func() { assert.NoError(t, it.Close()) })
	return it
}

func inodeOf(t *testing.T, fd int) uint64 {
	t.Helper()
	var st unix.Stat_t
	require.NoError(t, unix.Fstat(fd, &st))
	return st.Ino
}

// mySockets scans and returns this process's socket descriptors.
func mySockets(t *testing.T, it *Iter) map[uint32][]uint64 {
	t.Helper()
	me := uint32(os.Getpid())
	got := map[uint32][]uint64{}
	require.NoError(t, it.Scan(context.Background(), func(pid, fd uint32, ino uint64) {
		if pid == me {
			got[fd] = append(got[fd], ino)
		}
	}))
	return got
}

func TestFDIterKernel(t *testing.T) {
	it := openFDIterOrSkip(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	f, err := ln.(*net.TCPListener).File() // a second descriptor of the same socket
	require.NoError(t, err)
	defer f.Close()
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	defer unix.Close(pair[0])
	defer unix.Close(pair[1])
	var pipe [2]int
	require.NoError(t, unix.Pipe2(pipe[:], unix.O_CLOEXEC))
	defer unix.Close(pipe[0])
	defer unix.Close(pipe[1])

	got := mySockets(t, it)
	dup := int(f.Fd())
	for _, fd := range []int{dup, pair[0], pair[1]} {
		assert.Equal(t, []uint64{inodeOf(t, fd)}, got[uint32(fd)], "socket descriptor %d", fd)
	}
	for _, fd := range pipe {
		assert.NotContains(t, got, uint32(fd), "a pipe is not a socket")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.ErrorIs(t, it.Scan(ctx, func(uint32, uint32, uint64) {}), context.Canceled)
}

// envThreadFiles makes the test binary run threadFilesChild instead of the
// tests.
const envThreadFiles = "TCPTABLE_LINUX_TEST_THREAD_FILES"

func init() {
	if os.Getenv(envThreadFiles) != "" {
		os.Exit(threadFilesChild())
	}
}

// threadFilesChild gives a thread other than the main one a file table of
// its own (unshare(CLONE_FILES)), opens a socket in it, prints the socket's
// descriptor and inode, and waits for its standard input to close. It runs
// in a child process: a Go thread's file table cannot be given back, and
// the tests' own process must keep one table.
func threadFilesChild() int {
	type held struct {
		fd  int
		ino uint64
		err error
	}
	ch := make(chan held)
	for h := (held{fd: -1}); ; {
		go func() {
			runtime.LockOSThread() // never unlocked: the thread is this process's to spoil
			if unix.Gettid() == unix.Getpid() {
				ch <- held{fd: -1} // the main thread: keep it, try another
				select {}
			}
			h := held{err: unix.Unshare(unix.CLONE_FILES)}
			if h.err == nil {
				h.fd, h.err = unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
			}
			if h.err == nil {
				var st unix.Stat_t
				h.err = unix.Fstat(h.fd, &st)
				h.ino = st.Ino
			}
			ch <- h
			select {}
		}()
		if h = <-ch; h.err != nil {
			fmt.Fprintln(os.Stderr, "thread files child:", h.err)
			return 1
		}
		if h.fd >= 0 {
			fmt.Println(h.fd, h.ino)
			io.Copy(io.Discard, os.Stdin)
			return 0
		}
	}
}

// TestFDIterThreadFiles checks that a socket held only in the private file
// table of a thread, which /proc/PID/fd (the main thread's table) does not
// show, is reported with its process's PID.
func TestFDIterThreadFiles(t *testing.T) {
	it := openFDIterOrSkip(t)
	exe, err := os.Executable()
	require.NoError(t, err)
	cmd := exec.Command(exe)
	stdin, stdout, err := netnstest.StartPiped(cmd, envThreadFiles+"=1")
	require.NoError(t, err)
	defer func() { assert.NoError(t, netnstest.Stop(cmd, stdin)) }()
	var fd uint32
	var ino uint64
	_, err = fmt.Fscan(stdout, &fd, &ino)
	require.NoError(t, err, "the child reports its thread's socket")

	child := uint32(cmd.Process.Pid)
	var got []uint64
	require.NoError(t, it.Scan(context.Background(), func(pid, f uint32, i uint64) {
		if pid == child && f == fd {
			got = append(got, i)
		}
	}))
	assert.Contains(t, got, ino, "the thread's socket is reported with the process's PID")
	main, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", child))
	require.NoError(t, err)
	for _, e := range main {
		if e.Name() == fmt.Sprint(fd) {
			link, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", child, e.Name()))
			assert.NotEqual(t, fmt.Sprintf("socket:[%d]", ino), link, "the main thread's table does not hold it")
		}
	}
}

// TestBPFCapable drops, on a locked thread, the capabilities a tracing
// program needs from the effective set and checks that the iterator is
// refused before anything is read, then raises them again.
func TestBPFCapable(t *testing.T) {
	runtime.LockOSThread()
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var orig [2]unix.CapUserData
	require.NoError(t, unix.Capget(&hdr, &orig[0]))
	if orig[0].Effective&(1<<capSysAdmin) == 0 {
		runtime.UnlockOSThread()
		testenv.SkipOrFail(t, "needs CAP_SYS_ADMIN (run as root)")
	}
	require.NoError(t, BPFCapable())
	dropped := orig
	dropped[0].Effective &^= 1 << capSysAdmin
	dropped[1].Effective &^= 1<<(capBPF-32) | 1<<(capPerfmon-32)
	require.NoError(t, unix.Capset(&hdr, &dropped[0]))
	err := BPFCapable()
	if unix.Capset(&hdr, &orig[0]) == nil {
		runtime.UnlockOSThread() // else the thread dies with the test's goroutine
	}
	assert.ErrorIs(t, err, unix.EPERM)
	assert.ErrorContains(t, err, "CAP_BPF and CAP_PERFMON")
}

// TestLoadProgramVerifierLog loads a program the verifier rejects (it
// returns without setting R0) and checks that the error quotes the
// verifier's log, which the loader asks for through the log members of
// progLoadAttr; and that the iterator's own program loads.
func TestLoadProgramVerifierLog(t *testing.T) {
	openFDIterOrSkip(t) // root with BTF
	b, release, err := readBTF()
	require.NoError(t, err)
	l, err := parseIterLayout(b)
	release()
	require.NoError(t, err)
	bad := assemble([]bpfInsn{{op: bpfJMP | bpfEXIT}}, 0, l.order)
	_, err = loadProgram(bad, l.funcID)
	require.Error(t, err)
	assert.ErrorIs(t, err, unix.EACCES)
	assert.Contains(t, err.Error(), "verifier:")
	assert.Contains(t, err.Error(), "R0 !read_ok")

	good, err := fdIterProgram(l)
	require.NoError(t, err)
	fd, err := loadProgram(good, l.funcID)
	require.NoError(t, err)
	require.NoError(t, unix.Close(fd))
}
