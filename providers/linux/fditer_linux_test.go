package linux

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/tcptable/tcptable"
)

// openFDIterOrSkip loads the descriptor iterator or skips with a hint.
func openFDIterOrSkip(t *testing.T) *fdIter {
	t.Helper()
	procFD, err := unix.Open("/proc", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	require.NoError(t, err)
	defer unix.Close(procFD)
	it, err := openFDIter(procFD)
	if err != nil {
		t.Skipf("BPF descriptor iterator not available (%v): run as root on Linux 5.8+ with BTF", err)
	}
	t.Cleanup(func() { assert.NoError(t, it.close()) })
	return it
}

func inodeOf(t *testing.T, fd int) uint64 {
	t.Helper()
	var st unix.Stat_t
	require.NoError(t, unix.Fstat(fd, &st))
	return st.Ino
}

// mySockets scans and returns this process's socket descriptors.
func mySockets(t *testing.T, it *fdIter) map[uint32][]uint64 {
	t.Helper()
	me := uint32(os.Getpid())
	got := map[uint32][]uint64{}
	require.NoError(t, it.scan(context.Background(), func(pid, fd uint32, ino uint64) {
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
	assert.ErrorIs(t, it.scan(ctx, func(uint32, uint32, uint64) {}), context.Canceled)
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
	cmd.Env = append(os.Environ(), envThreadFiles+"=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	defer func() {
		stdin.Close()
		assert.NoError(t, cmd.Wait())
	}()
	var fd uint32
	var ino uint64
	_, err = fmt.Fscan(stdout, &fd, &ino)
	require.NoError(t, err, "the child reports its thread's socket")

	child := uint32(cmd.Process.Pid)
	var got []uint64
	require.NoError(t, it.scan(context.Background(), func(pid, f uint32, i uint64) {
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

// TestResolverKernelCache checks the BPF scan's use of the owner cache, in
// both modes: with every process in the queried namespace (one iterator
// run over every process), and with a process in another namespace (the
// namespace's processes one at a time, the others only when needed). The
// first poll scans, an unchanged poll trusts the lists, a socket the lists
// do not know makes the poll scan again, and so does the end of the
// revalidation interval.
func TestResolverKernelCache(t *testing.T) {
	openFDIterOrSkip(t) // skips where the iterator is unavailable
	for _, perProcess := range []bool{false, true} {
		t.Run(fmt.Sprintf("perProcess=%v", perProcess), func(t *testing.T) {
			testResolverKernelCache(t, perProcess)
		})
	}
}

func testResolverKernelCache(t *testing.T, perProcess bool) {
	r, err := newResolver("/proc", true, time.Hour, 2, false)
	require.NoError(t, err)
	defer r.close()
	require.NoError(t, r.useIter(OwnerScanBPF))
	require.NotNil(t, r.iter)
	now := time.Now()
	r.now = func() time.Time { return now }
	netns, err := selfNetNS()
	require.NoError(t, err)
	var other *exec.Cmd
	if perProcess {
		if !r.iter.perProcess {
			t.Skip("the kernel cannot iterate one process (Linux 6.1+)")
		}
		other = exec.Command("unshare", "--net", "sleep", "60")
		if err := other.Start(); err != nil {
			t.Skipf("cannot start a process in another network namespace (unshare, util-linux): %v", err)
		}
		defer func() { other.Process.Kill(); other.Wait() }()
		for range 100 { // until it is in its namespace
			if l, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", other.Process.Pid)); l != "" && l != fmt.Sprintf("net:[%d]", netns) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	} else {
		r.iter.perProcess = false
	}

	sockets := func(n int) []uint64 {
		var inos []uint64
		for range n {
			fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
			require.NoError(t, err)
			t.Cleanup(func() { unix.Close(fd) })
			inos = append(inos, inodeOf(t, fd))
		}
		return inos
	}
	poll := func(inos []uint64) (runs int) {
		t.Helper()
		before := r.iterRuns
		rows := fakeRows(inos...)
		require.NoError(t, r.begin(context.Background(), netns))
		require.NoError(t, r.finish(context.Background(), rows, true))
		for _, c := range rows {
			require.Equal(t, uint32(os.Getpid()), c.PID, "socket %d", c.Socket)
			require.Equal(t, tcptable.OwnerOK, c.OwnerStatus)
			require.Equal(t, tcptable.OwnerOK, c.ModuleStatus)
		}
		return r.iterRuns - before
	}
	a := sockets(3)
	assert.Positive(t, poll(a), "the first poll scans")
	if perProcess {
		e := r.procs[uint32(other.Process.Pid)]
		require.NotNil(t, e)
		assert.True(t, e.listed.IsZero(), "a process of another namespace is not read when the namespace's own suffice")
		assert.Greater(t, r.iterRuns, 1, "one run per process of the namespace")
	} else {
		assert.Equal(t, 1, r.iterRuns, "one run over every process")
	}
	assert.Zero(t, poll(a), "an unchanged table is served from the lists")
	b := append(a, sockets(1)...)
	assert.Positive(t, poll(b), "a socket opened since makes the poll scan")
	assert.Zero(t, poll(b))
	now = now.Add(time.Hour)
	assert.Positive(t, poll(b), "the revalidation interval ends the trust")
	r.cache = false
	assert.Positive(t, poll(b), "without the cache every poll scans")
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
		t.Skip("needs CAP_SYS_ADMIN (run as root)")
	}
	require.NoError(t, bpfCapable())
	dropped := orig
	dropped[0].Effective &^= 1 << capSysAdmin
	dropped[1].Effective &^= 1<<(capBPF-32) | 1<<(capPerfmon-32)
	require.NoError(t, unix.Capset(&hdr, &dropped[0]))
	err := bpfCapable()
	if unix.Capset(&hdr, &orig[0]) == nil {
		runtime.UnlockOSThread() // else the thread dies with the test's goroutine
	}
	assert.ErrorIs(t, err, unix.EPERM)
	assert.ErrorContains(t, err, "CAP_BPF and CAP_PERFMON")
}

// TestResolverKernelProbesHidden checks that a socket the iterator did not
// report (as for a process the kernel hides from BPF iterators) is looked
// for in /proc among the processes the iterator reported no socket for.
func TestResolverKernelProbesHidden(t *testing.T) {
	openFDIterOrSkip(t)
	r, err := newResolver("/proc", true, time.Hour, 2, false)
	require.NoError(t, err)
	defer r.close()
	require.NoError(t, r.useIter(OwnerScanBPF))
	r.iter.perProcess = false // one run over every process, in begin
	netns, err := selfNetNS()
	require.NoError(t, err)
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	defer unix.Close(fd)
	rows := fakeRows(inodeOf(t, fd))

	require.NoError(t, r.begin(context.Background(), netns))
	require.True(t, r.iterated)
	me := r.procs[uint32(os.Getpid())]
	require.NotNil(t, me)
	require.NotEmpty(t, me.fds, "the iterator reported this process's socket")
	me.fds = me.fds[:0] // as if the kernel had hidden this process from it
	require.NoError(t, r.finish(context.Background(), rows, true))
	assert.Equal(t, uint32(os.Getpid()), rows[0].PID, "found in /proc")
	assert.Equal(t, tcptable.OwnerOK, rows[0].OwnerStatus)
}
