package owners

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcptable/tcptable"
)

// fakeProc builds a /proc tree of processes for the resolver.
type fakeProc struct {
	t    *testing.T
	root string
}

func newFakeProc(t *testing.T) *fakeProc { return &fakeProc{t: t, root: t.TempDir()} }

func (f *fakeProc) write(rel, data string) {
	p := filepath.Join(f.root, rel)
	require.NoError(f.t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(f.t, os.WriteFile(p, []byte(data), 0o644))
}

func (f *fakeProc) link(rel, target string) {
	p := filepath.Join(f.root, rel)
	require.NoError(f.t, os.MkdirAll(filepath.Dir(p), 0o755))
	_ = os.Remove(p)
	require.NoError(f.t, os.Symlink(target, p))
}

// proc adds process pid with start time, name, network namespace and
// descriptors (fd number -> link target).
func (f *fakeProc) proc(pid int, start uint64, comm string, netns uint64, fds map[int]string) {
	dir := fmt.Sprint(pid)
	f.stat(pid, 1, start, comm, 0)
	f.write(dir+"/comm", comm+"\n")
	f.link(dir+"/exe", "/usr/bin/"+comm)
	f.link(dir+"/ns/net", fmt.Sprintf("net:[%d]", netns))
	require.NoError(f.t, os.MkdirAll(filepath.Join(f.root, dir, "fd"), 0o755))
	for fd, target := range fds {
		f.link(fmt.Sprintf("%s/fd/%d", dir, fd), target)
	}
}

// stat writes process pid's stat with its parent, start time, name and
// start of code (which a new program changes).
func (f *fakeProc) stat(pid, ppid int, start uint64, comm string, code uint64) {
	f.write(fmt.Sprint(pid)+"/stat", fmt.Sprintf("%d (%s) S %d 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 %d 100 1 1 %d 2 3\n", pid, comm, ppid, start, code))
}

func sock(ino int) string { return fmt.Sprintf("socket:[%d]", ino) }

const testNS = 42

func fakeRows(inodes ...uint64) []tcptable.Connection {
	rows := make([]tcptable.Connection, len(inodes))
	for i, ino := range inodes {
		rows[i].Socket = ino
	}
	return rows
}

func resolve(t *testing.T, r *Resolver, rows []tcptable.Connection) []tcptable.Connection {
	t.Helper()
	require.NoError(t, r.Begin(context.Background(), testNS))
	require.NoError(t, r.Finish(context.Background(), rows, true))
	return rows
}

func newFakeResolver(t *testing.T, f *fakeProc, cache bool) *Resolver {
	t.Helper()
	r, err := New(f.root, cache, 0, 2, false)
	require.NoError(t, err)
	t.Cleanup(func() { r.Close() })
	return r
}

func TestResolverOwners(t *testing.T) {
	for _, cache := range []bool{true, false} {
		t.Run(fmt.Sprintf("cache=%v", cache), func(t *testing.T) {
			f := newFakeProc(t)
			f.proc(100, 500, "srv", testNS, map[int]string{0: "/dev/null", 3: sock(1001), 4: sock(1002), 9: "pipe:[7]"})
			f.proc(200, 510, "worker", testNS, map[int]string{5: sock(1001), 6: sock(1001)})
			f.proc(300, 520, "other", 99, map[int]string{7: sock(1003)})
			f.proc(301, 530, "idle", 99, map[int]string{8: sock(2000)})
			f.write("self/stat", "not a process")
			r := newFakeResolver(t, f, cache)

			rows := resolve(t, r, fakeRows(1001, 1002, 1003, 1004, 0))
			assert.Equal(t, uint32(100), rows[0].PID)
			assert.Equal(t, []uint32{200}, rows[0].OtherPIDs, "shared socket lists every holder once")
			assert.Equal(t, tcptable.Module{Name: "srv", Path: "/usr/bin/srv"}, rows[0].Module)
			assert.Equal(t, tcptable.OwnerOK, rows[0].ModuleStatus)
			assert.Equal(t, tcptable.SourceProcfs, rows[0].ModuleSource)
			assert.Equal(t, uint32(100), rows[1].PID)
			assert.Equal(t, uint32(300), rows[2].PID, "found among other namespaces' processes")
			assert.Equal(t, tcptable.OwnerOK, rows[2].OwnerStatus)
			assert.Equal(t, uint32(0), rows[3].PID)
			assert.Equal(t, tcptable.OwnerNotFound, rows[3].OwnerStatus)
			assert.Equal(t, tcptable.OwnerKernel, rows[4].OwnerStatus)
			assert.Equal(t, tcptable.OwnerKernel, rows[4].ModuleStatus)

			// Only listeners wanted, all in the namespace: the other
			// namespace's processes are not read.
			r2 := newFakeResolver(t, f, cache)
			rows = resolve(t, r2, fakeRows(1001))
			assert.Equal(t, uint32(100), rows[0].PID)
			assert.Empty(t, r2.procs[300].fds, "early stop: no need to read other namespaces")

			// A descriptor number reused for a new socket is found.
			f.link("100/fd/4", sock(1005))
			rows = resolve(t, r, fakeRows(1001, 1005))
			assert.Equal(t, uint32(100), rows[1].PID)

			// The shared holder exits: one owner left; its sole socket
			// reports the exit.
			f.proc(400, 540, "short", testNS, map[int]string{3: sock(1006)})
			rows = resolve(t, r, fakeRows(1006))
			assert.Equal(t, uint32(400), rows[0].PID)
			require.NoError(t, os.RemoveAll(filepath.Join(f.root, "200")))
			require.NoError(t, os.RemoveAll(filepath.Join(f.root, "400")))
			rows = resolve(t, r, fakeRows(1001, 1006))
			assert.Equal(t, uint32(100), rows[0].PID)
			assert.Empty(t, rows[0].OtherPIDs)
			assert.Equal(t, uint32(0), rows[1].PID)
			assert.Equal(t, tcptable.OwnerExited, rows[1].OwnerStatus)
		})
	}
}

func TestResolverModuleCachedPerStartTime(t *testing.T) {
	f := newFakeProc(t)
	f.proc(100, 500, "srv", testNS, map[int]string{3: sock(1001)})
	r := newFakeResolver(t, f, true)
	rows := resolve(t, r, fakeRows(1001))
	assert.Equal(t, "srv", rows[0].Module.Name)

	// Same process renames itself: the module read at first sight stays.
	f.write("100/comm", "renamed\n")
	rows = resolve(t, r, fakeRows(1001))
	assert.Equal(t, "srv", rows[0].Module.Name)

	// The PID is reused by a new process (new start time): re-read.
	f.proc(100, 900, "newcomer", testNS, map[int]string{3: sock(1001)})
	rows = resolve(t, r, fakeRows(1001))
	assert.Equal(t, tcptable.Module{Name: "newcomer", Path: "/usr/bin/newcomer"}, rows[0].Module)
}

func TestResolverOtherNamespace(t *testing.T) {
	f := newFakeProc(t)
	f.proc(300, 520, "other", 99, map[int]string{7: sock(1003)})
	r := newFakeResolver(t, f, true)
	rows := resolve(t, r, fakeRows(1004))
	assert.Equal(t, tcptable.OwnerOtherNamespace, rows[0].OwnerStatus,
		"no visible process lives in the queried namespace")
}

func TestResolverCancel(t *testing.T) {
	f := newFakeProc(t)
	f.proc(100, 500, "srv", testNS, map[int]string{3: sock(1001)})
	r := newFakeResolver(t, f, true)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.ErrorIs(t, r.Begin(ctx, testNS), context.Canceled)
}

func TestResolverBadRoot(t *testing.T) {
	_, err := New(filepath.Join(t.TempDir(), "missing"), true, 0, 1, false)
	assert.ErrorIs(t, err, os.ErrNotExist)
}

func TestResolverRevalidation(t *testing.T) {
	f := newFakeProc(t)
	f.proc(100, 500, "srv", testNS, map[int]string{3: sock(1001)})
	f.proc(200, 510, "worker", testNS, map[int]string{5: sock(1001)})
	r, err := New(f.root, true, time.Hour, 2, false)
	require.NoError(t, err)
	t.Cleanup(func() { r.Close() })
	now := time.Unix(1e9, 0)
	r.now = func() time.Time { return now }

	rows := resolve(t, r, fakeRows(1001))
	assert.Equal(t, []uint32{100, 200}, rows[0].Owners())

	// 100 closes its descriptor; 200 keeps the socket alive. Within the
	// revalidation interval the cached list still names 100...
	require.NoError(t, os.Remove(filepath.Join(f.root, "100/fd/3")))
	rows = resolve(t, r, fakeRows(1001))
	assert.Equal(t, []uint32{100, 200}, rows[0].Owners(), "cached within the interval (documented)")

	// ...and once the interval has passed the list is read again.
	now = now.Add(2 * time.Hour)
	rows = resolve(t, r, fakeRows(1001))
	assert.Equal(t, []uint32{200}, rows[0].Owners())

	// A new process inheriting the socket is read at once.
	f.proc(300, 600, "child", testNS, map[int]string{4: sock(1001)})
	rows = resolve(t, r, fakeRows(1001))
	assert.Equal(t, []uint32{200, 300}, rows[0].Owners())
}

// newCachingResolver returns a resolver of f that trusts lists for an
// hour, on a clock the test sets.
func newCachingResolver(t *testing.T, f *fakeProc) (*Resolver, *time.Time) {
	t.Helper()
	r, err := New(f.root, true, time.Hour, 2, false)
	require.NoError(t, err)
	t.Cleanup(func() { r.Close() })
	now := time.Unix(1e9, 0)
	r.now = func() time.Time { return now }
	return r, &now
}

// TestResolverFork: a process creates a socket after its list was cached
// and a child inherits it; the child is new and read at once, and its
// parent is read again too, so both are owners (not the child alone until
// the parent's list is revalidated).
func TestResolverFork(t *testing.T) {
	f := newFakeProc(t)
	f.proc(100, 500, "srv", testNS, map[int]string{3: sock(1001)})
	f.proc(150, 505, "unrelated", testNS, map[int]string{3: sock(1003)})
	r, _ := newCachingResolver(t, f)
	rows := resolve(t, r, fakeRows(1001))
	assert.Equal(t, []uint32{100}, rows[0].Owners())

	// The same number reused for the new socket: the parent's list must be
	// read afresh, not trusted number by number.
	f.link("100/fd/3", sock(1002))
	f.proc(200, 600, "srv", testNS, map[int]string{3: sock(1002)})
	f.stat(200, 100, 600, "srv", 0)
	f.link("150/fd/3", sock(1002)) // not a parent: its cached list stands
	rows = resolve(t, r, fakeRows(1002))
	assert.Equal(t, []uint32{100, 200}, rows[0].Owners())
}

// TestResolverExec: a process that runs another program gets the new
// program's module, and its list is read again (its close-on-exec
// descriptors are gone), within the revalidation interval.
func TestResolverExec(t *testing.T) {
	f := newFakeProc(t)
	f.proc(100, 500, "old", testNS, map[int]string{3: sock(1001), 4: sock(1002)})
	f.proc(101, 501, "keeper", testNS, map[int]string{4: sock(1002)})
	r, _ := newCachingResolver(t, f)
	rows := resolve(t, r, fakeRows(1001, 1002))
	assert.Equal(t, tcptable.Module{Name: "old", Path: "/usr/bin/old"}, rows[0].Module)
	assert.Equal(t, []uint32{100, 101}, rows[1].Owners())

	// execve: same PID and start time, new name, path and code address;
	// the close-on-exec socket 1002 is gone from 100.
	f.stat(100, 1, 500, "new", 0x5000)
	f.write("100/comm", "new\n")
	f.link("100/exe", "/usr/bin/new")
	require.NoError(t, os.Remove(filepath.Join(f.root, "100/fd/4")))
	rows = resolve(t, r, fakeRows(1001, 1002))
	assert.Equal(t, tcptable.Module{Name: "new", Path: "/usr/bin/new"}, rows[0].Module)
	assert.Equal(t, []uint32{101}, rows[1].Owners())

	// A program with the same name exec'd: the code address tells.
	f.stat(100, 1, 500, "new", 0x7000)
	f.link("100/exe", "/opt/new")
	rows = resolve(t, r, fakeRows(1001))
	assert.Equal(t, tcptable.Module{Name: "new", Path: "/opt/new"}, rows[0].Module)
}

// TestResolverLongName: a name the kernel cut to 15 bytes is completed
// from the executable or argv[0].
func TestResolverLongName(t *testing.T) {
	f := newFakeProc(t)
	f.proc(100, 500, "my-long-server-", testNS, map[int]string{3: sock(1001)})
	f.link("100/exe", "/opt/bin/my-long-server-binary")
	f.proc(101, 501, "my-long-linked-", testNS, map[int]string{3: sock(1002)})
	f.link("101/exe", "/usr/bin/sleep")
	f.write("101/cmdline", "/tmp/my-long-linked-binary\x00300\x00")
	f.proc(102, 502, "renamed-itself-", testNS, map[int]string{3: sock(1003)})
	f.link("102/exe", "/usr/bin/python3")
	f.write("102/cmdline", "python3\x00")
	r := newFakeResolver(t, f, true)
	rows := resolve(t, r, fakeRows(1001, 1002, 1003))
	assert.Equal(t, tcptable.Module{Name: "my-long-server-binary", Path: "/opt/bin/my-long-server-binary"}, rows[0].Module)
	assert.Equal(t, tcptable.Module{Name: "my-long-linked-binary", Path: "/usr/bin/sleep"}, rows[1].Module)
	assert.Equal(t, tcptable.Module{Name: "renamed-itself-", Path: "/usr/bin/python3"}, rows[2].Module)
}

func TestResolverFirstOwnerOnly(t *testing.T) {
	for _, cache := range []bool{true, false} {
		t.Run(fmt.Sprint("cache=", cache), func(t *testing.T) {
			f := newFakeProc(t)
			// A listener at a low descriptor shared by a server and its
			// worker, which also holds many established sockets, and a
			// socket above the first round's reach.
			busy := map[int]string{3: sock(1001)}
			for fd := 10; fd < 10+2*firstRoundFDs; fd++ {
				busy[fd] = sock(5000 + fd)
			}
			f.proc(100, 500, "srv", testNS, map[int]string{3: sock(1001)})
			f.proc(200, 510, "worker", testNS, busy)
			r, err := New(f.root, cache, time.Hour, 2, true)
			require.NoError(t, err)
			t.Cleanup(func() { r.Close() })

			rows := resolve(t, r, fakeRows(1001))
			assert.Equal(t, uint32(100), rows[0].PID)
			assert.Equal(t, []uint32{200}, rows[0].OtherPIDs, "both holders sit in the first round")
			assert.True(t, r.procs[200].partial, "the busy process was read only in part")
			assert.Len(t, r.procs[200].fds, firstRoundFDs)

			// A socket the first round does not reach (the fake /proc
			// lists in hash order, the real one in ascending order): the
			// lists are completed.
			read := map[uint32]bool{}
			for _, fs := range r.procs[200].fds {
				read[fs.ino] = true
			}
			var high uint64
			for fd := range busy {
				if ino := uint32(5000 + fd); fd >= 10 && !read[ino] {
					high = uint64(ino)
				}
			}
			require.NotZero(t, high)
			rows = resolve(t, r, fakeRows(1001, high))
			assert.Equal(t, uint32(200), rows[1].PID)
			assert.Equal(t, tcptable.OwnerOK, rows[1].OwnerStatus)
			assert.False(t, r.procs[200].partial)
			assert.Len(t, r.procs[200].fds, 1+2*firstRoundFDs)
		})
	}
}

// TestResolverTransientHolders: a young child of an owner that holds the
// socket only through descriptors it will close at exec is not an owner;
// children that keep it across exec, older children, and holders whose
// parent does not hold the socket are.
func TestResolverTransientHolders(t *testing.T) {
	f := newFakeProc(t)
	const now = 100000
	fdinfo := func(pid, fd int, flags string, ino int) {
		f.write(fmt.Sprintf("%d/fdinfo/%d", pid, fd), fmt.Sprintf("pos:\t0\nflags:\t%s\nmnt_id:\t9\nino:\t%d\n", flags, ino))
	}
	const cloexec, plain = "02000002", "02"
	f.proc(100, 500, "srv", testNS, map[int]string{3: sock(1001), 5: sock(1002)})
	fdinfo(100, 3, cloexec, 1001)
	fdinfo(100, 5, plain, 1002)
	child := func(pid int, start uint64, ppid int, fds map[int]string) {
		f.proc(pid, start, "srv", testNS, fds)
		f.stat(pid, ppid, start, "srv", 0)
	}
	child(200, now-10, 100, map[int]string{3: sock(1001)}) // between fork and exec
	fdinfo(200, 3, cloexec, 1001)
	child(201, now-10, 100, map[int]string{4: sock(1001)}) // kept across exec (dup'd without close-on-exec)
	fdinfo(201, 4, plain, 1001)
	child(202, now-500, 100, map[int]string{3: sock(1001)}) // five seconds old: a pre-forked worker
	fdinfo(202, 3, cloexec, 1001)
	child(203, now-10, 100, map[int]string{3: sock(1001)}) // exec is closing it: the mark is cleared first, no program loaded yet (startcode 0)
	fdinfo(203, 3, plain, 1001)
	child(204, now-10, 999, map[int]string{3: sock(1001)}) // its parent does not hold it
	fdinfo(204, 3, cloexec, 1001)
	child(205, now-10, 100, map[int]string{5: sock(1002)}) // the parent's descriptor is not close-on-exec
	fdinfo(205, 5, plain, 1002)
	child(206, now-10, 100, map[int]string{3: sock(1001)}) // fdinfo gone: exec'd or exited since the scan
	child(207, now-10, 100, map[int]string{3: sock(1001)}) // exec'd, keeping the parent's number without close-on-exec
	f.stat(207, 100, now-10, "sleep", 0x4000)
	fdinfo(207, 3, plain, 1001)
	r := newFakeResolver(t, f, true)
	r.ticks = func() uint64 { return now }
	rows := resolve(t, r, fakeRows(1001, 1002))
	assert.Equal(t, []uint32{100, 201, 202, 204, 207}, rows[0].Owners())
	assert.Equal(t, []uint32{100, 205}, rows[1].Owners())
	assert.Equal(t, "srv", rows[0].Module.Name)
}
