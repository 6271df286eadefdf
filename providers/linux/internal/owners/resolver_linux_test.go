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
	f.write(dir+"/stat", fmt.Sprintf("%d (%s) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 %d 100 1\n", pid, comm, start))
	f.write(dir+"/comm", comm+"\n")
	f.link(dir+"/exe", "/usr/bin/"+comm)
	f.link(dir+"/ns/net", fmt.Sprintf("net:[%d]", netns))
	require.NoError(f.t, os.MkdirAll(filepath.Join(f.root, dir, "fd"), 0o755))
	for fd, target := range fds {
		f.link(fmt.Sprintf("%s/fd/%d", dir, fd), target)
	}
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
	for _, mode := range []struct{ cache, ring bool }{{true, true}, {false, true}, {true, false}, {false, false}} {
		cache := mode.cache
		t.Run(fmt.Sprintf("cache=%v,ring=%v", mode.cache, mode.ring), func(t *testing.T) {
			f := newFakeProc(t)
			f.proc(100, 500, "srv", testNS, map[int]string{0: "/dev/null", 3: sock(1001), 4: sock(1002), 9: "pipe:[7]"})
			f.proc(200, 510, "worker", testNS, map[int]string{5: sock(1001), 6: sock(1001)})
			f.proc(300, 520, "other", 99, map[int]string{7: sock(1003)})
			f.proc(301, 530, "idle", 99, map[int]string{8: sock(2000)})
			f.write("self/stat", "not a process")
			r := newFakeResolver(t, f, cache)
			for _, sc := range r.scanners {
				sc.noRing = !mode.ring // one stat per link, as without io_uring
			}

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
