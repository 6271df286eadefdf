package owners

import (
	"net"
	"os"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/tcptable/tcptable/internal/testenv"
)

// TestProbe reads this process's descriptors by probing numbers (more
// than probeMin of them) and compares with one fstat per descriptor.
func TestProbe(t *testing.T) {
	sc := &scanner{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	want := map[int32]uint32{}
	for range probeMin + 100 {
		c, err := net.Dial("tcp", ln.Addr().String())
		require.NoError(t, err)
		defer c.Close()
		f, err := c.(*net.TCPConn).File() // a dup: stat it, not the original
		require.NoError(t, err)
		var st unix.Stat_t
		require.NoError(t, unix.Fstat(int(f.Fd()), &st))
		require.NoError(t, f.Close())
		sc, err := c.(*net.TCPConn).SyscallConn()
		require.NoError(t, err)
		require.NoError(t, sc.Control(func(fd uintptr) { want[int32(fd)] = uint32(st.Ino) }))
	}
	dfd, err := openDir(unix.AT_FDCWD, "/proc/self/fd")
	require.NoError(t, err)
	defer unix.Close(dfd)
	count, ok := openFDs(dfd)
	if !ok {
		testenv.SkipOrFail(t, "this kernel does not report the descriptor count of /proc/PID/fd (Linux 6.2+)")
	}
	assert.GreaterOrEqual(t, count, len(want))
	got, from := sc.probe(dfd, count, nil)
	assert.Len(t, got, count, "a dense table is probed in full")
	assert.Greater(t, from, int(got[len(got)-1].fd))
	checkFDs(t, want, got)

	// A descriptor far above the others: probing stops after a batch of
	// misses and the scan lists the rest of the directory from there.
	far := 3*probeMin + 4000
	lf, err := ln.(*net.TCPListener).File()
	require.NoError(t, err)
	var st unix.Stat_t
	require.NoError(t, unix.Fstat(int(lf.Fd()), &st))
	err = unix.Dup3(int(lf.Fd()), far, unix.O_CLOEXEC)
	require.NoError(t, lf.Close())
	if err != nil {
		testenv.SkipOrFail(t, "cannot place a descriptor at %d (raise RLIMIT_NOFILE): %v", far, err)
	}
	defer unix.Close(far)
	want[int32(far)] = uint32(st.Ino)
	r, err := New("/proc", false, 0, 1, false)
	require.NoError(t, err)
	defer r.Close()
	e := &procEntry{pid: uint32(os.Getpid()), dir: strconv.Itoa(os.Getpid())}
	r.scan(e, false, r.scanners[0], 0)
	require.False(t, e.gone)
	checkFDs(t, want, e.fds)

	// Not a procfs directory: no count.
	tmp, err := openDir(unix.AT_FDCWD, t.TempDir())
	require.NoError(t, err)
	defer unix.Close(tmp)
	_, ok = openFDs(tmp)
	assert.False(t, ok)
}

// checkFDs checks that got is in ascending order and holds every
// descriptor of want with its socket inode.
func checkFDs(t *testing.T, want map[int32]uint32, got []fdSock) {
	t.Helper()
	seen := map[int32]uint32{}
	for i, f := range got {
		if i > 0 {
			assert.Less(t, got[i-1].fd, f.fd, "ascending")
		}
		seen[f.fd] = f.ino
	}
	for fd, ino := range want {
		assert.Equal(t, ino, seen[fd], "descriptor %d", fd)
	}
}
