package owners

import (
	"context"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const testCID = "3f1c2a9e8b7d6c5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a19"

func TestResolverContainer(t *testing.T) {
	f := newFakeProc(t)
	f.proc(100, 500, "srv", testNS, map[int]string{3: sock(1001)})
	f.write("100/cgroup", "0::/system.slice/docker-"+testCID+".scope\n")
	f.proc(200, 510, "pod", testNS, map[int]string{3: sock(1002)})
	// A long file (more than one read) with the pod on its last line.
	f.write("200/cgroup", strings.Repeat("3:cpu:/"+strings.Repeat("x", 100)+"\n", 100)+
		"2:pids:/kubepods/burstable/pod7b6c5d1e-2f3a-4b5c-8d9e-0f1a2b3c4d5e\n")
	f.proc(300, 520, "host", testNS, map[int]string{3: sock(1003)})
	f.write("300/cgroup", "0::/user.slice/user-1000.slice/session-3.scope\n")
	f.proc(400, 530, "nofile", testNS, map[int]string{3: sock(1004)}) // no cgroup file
	f.proc(500, 540, "fifo", testNS, map[int]string{3: sock(1005)})
	require.NoError(t, syscall.Mkfifo(filepath.Join(f.root, "500", "cgroup"), 0o644)) // must not block the scan
	r := newFakeResolver(t, f, true)

	rows := resolve(t, r, fakeRows(1001, 1002, 1003, 1004, 1005))
	assert.Equal(t, testCID, rows[0].Container)
	assert.Equal(t, "pod7b6c5d1e-2f3a-4b5c-8d9e-0f1a2b3c4d5e", rows[1].Container, "only the pod is known")
	assert.Empty(t, rows[2].Container)
	assert.Empty(t, rows[3].Container)
	assert.Equal(t, uint32(500), rows[4].PID)
	assert.Empty(t, rows[4].Container)

	// Read once per process: a moved process keeps what was read first ...
	f.write("100/cgroup", "0::/\n")
	rows = resolve(t, r, fakeRows(1001))
	assert.Equal(t, testCID, rows[0].Container)
	// ... and a new process with the PID is read again.
	f.proc(100, 900, "newcomer", testNS, map[int]string{3: sock(1001)})
	rows = resolve(t, r, fakeRows(1001))
	assert.Empty(t, rows[0].Container)

	// Without modules, no container either.
	rows = fakeRows(1002)
	require.NoError(t, r.Begin(context.Background(), testNS))
	require.NoError(t, r.Finish(context.Background(), rows, false))
	assert.Equal(t, uint32(200), rows[0].PID)
	assert.Empty(t, rows[0].Container)
}

// TestResolverAllNetNS: with AllNetNS every process is in the queried
// set, so sockets of every namespace are found in the first round and
// none is reported as another namespace's.
func TestResolverAllNetNS(t *testing.T) {
	f := newFakeProc(t)
	f.proc(100, 500, "a", 7, map[int]string{3: sock(1001)})
	f.proc(200, 510, "b", 8, map[int]string{3: sock(1002)})
	r := newFakeResolver(t, f, true)
	require.NoError(t, r.Begin(context.Background(), AllNetNS))
	assert.Len(t, r.inNS, 2)
	assert.Empty(t, r.others)
	rows := fakeRows(1001, 1002)
	require.NoError(t, r.Finish(context.Background(), rows, true))
	assert.Equal(t, uint32(100), rows[0].PID)
	assert.Equal(t, uint32(200), rows[1].PID)
}
