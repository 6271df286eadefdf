package owners

import (
	"net"
	"os"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// TestStatRing compares batched stats of /proc/self/fd links with one
// fstatat each, over more links than one batch holds.
func TestStatRing(t *testing.T) {
	r, err := newStatRing()
	if err != nil {
		t.Skipf("io_uring unavailable here (%v): the scanner stats one link at a time", err)
	}
	defer r.close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	for range r.entries + 10 {
		c, err := net.Dial("tcp", ln.Addr().String())
		require.NoError(t, err)
		defer c.Close()
	}
	dfd, err := openDir(unix.AT_FDCWD, "/proc/self/fd")
	require.NoError(t, err)
	defer unix.Close(dfd)
	ents, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	var names []*byte
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err == nil {
			b := append([]byte(e.Name()), 0)
			names = append(names, &b[0])
		}
	}
	names = append(names, &[]byte("999999\x00")[0]) // no such descriptor
	socks := 0
	for len(names) > 0 {
		n := min(len(names), r.entries)
		res, err := r.stat(dfd, names[:n])
		require.NoError(t, err)
		require.Len(t, res, n)
		for k, got := range res {
			ino, isSock, err := socketInode(dfd, names[k])
			if err != nil {
				assert.Equal(t, unix.ENOENT, got.errno)
				continue
			}
			assert.Zero(t, got.errno)
			assert.Equal(t, isSock, got.isSock)
			assert.Equal(t, ino, got.ino)
			if isSock {
				socks++
			}
		}
		names = names[n:]
	}
	assert.Greater(t, socks, r.entries, "the dialled sockets were seen")
}

// TestProbe reads this process's descriptors by probing numbers (more
// than probeMin of them) and compares with one fstat per descriptor.
func TestProbe(t *testing.T) {
	sc := &scanner{}
	if !sc.ready() {
		t.Skip("io_uring unavailable here: descriptors are listed, not probed")
	}
	defer sc.close()
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
		t.Skip("this kernel does not report the descriptor count of /proc/PID/fd (Linux 6.2+)")
	}
	assert.GreaterOrEqual(t, count, len(want))
	got, from, ok := sc.probe(dfd, count, nil)
	require.True(t, ok)
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
		t.Skipf("cannot place a descriptor at %d: %v", far, err)
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
