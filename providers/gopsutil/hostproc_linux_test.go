package gopsutil

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcptable/tcptable"
)

const procNetTCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1234 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12345 1 0000000000000000 100 0 0 10 0
   1: 0100007F:5678 0100007F:1234 01 00000000:00000000 00:00000000 00000000  1000        0 12346 1 0000000000000000 20 4 30 10 -1
   2: 0100007F:9ABC 0100007F:1234 06 00000000:00000000 03:00001770 00000000     0        0 0 3 0000000000000000
`

const procNetTCP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 22345 1 0000000000000000 100 0 0 10 0
   1: 0000000000000000FFFF00000100007F:1F90 0000000000000000FFFF00000100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 22346 1 0000000000000000 20 4 30 10 -1
`

// fakeProcRoot writes a /proc with the tables above, where process 4242
// holds the IPv4 listener (inode 12345) and the IPv6 pair's server end
// (inode 22346), and returns its path.
func fakeProcRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	// /proc/net and, for PID queries, /proc/4242/net (the process' netns).
	for _, net := range []string{filepath.Join(root, "net"), filepath.Join(root, "4242", "net")} {
		require.NoError(t, os.MkdirAll(net, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(net, "tcp"), []byte(procNetTCP), 0o644))
		require.NoError(t, os.WriteFile(filepath.Join(net, "tcp6"), []byte(procNetTCP6), 0o644))
	}
	fd := filepath.Join(root, "4242", "fd")
	require.NoError(t, os.MkdirAll(fd, 0o755))
	require.NoError(t, os.Symlink("socket:[12345]", filepath.Join(fd, "3")))
	require.NoError(t, os.Symlink("socket:[22346]", filepath.Join(fd, "7")))
	require.NoError(t, os.Symlink("/dev/null", filepath.Join(fd, "0")))
	return root
}

// TestHostProcFixture runs gopsutil itself (not a fake lister) over a
// /proc fixture through WithHostProc: the Linux spellings, hex addresses,
// IPv4-mapped IPv6 rows and owner statuses, end to end.
func TestHostProcFixture(t *testing.T) {
	p, err := New(WithHostProc(fakeProcRoot(t)))
	require.NoError(t, err)
	p.privileged = true
	conns, err := p.Table(context.Background(), tcptable.Query{Owners: tcptable.OwnerPIDs})
	require.NoError(t, err)

	type row struct {
		state         tcptable.State
		local, remote string
		pid           uint32
		owner         tcptable.OwnerStatus
		osState       uint32
	}
	var got []row
	for _, c := range conns {
		got = append(got, row{c.State, c.Local.String(), c.Remote.String(), c.PID, c.OwnerStatus, c.OSState})
	}
	assert.ElementsMatch(t, []row{
		{tcptable.StateListen, "127.0.0.1:4660", "0.0.0.0:0", 4242, tcptable.OwnerOK, 10},
		{tcptable.StateEstablished, "127.0.0.1:22136", "127.0.0.1:4660", 0, tcptable.OwnerNotFound, 1},
		{tcptable.StateTimeWait, "127.0.0.1:39612", "127.0.0.1:4660", 0, tcptable.OwnerKernel, 6},
		{tcptable.StateListen, "[::1]:8080", "[::]:0", 0, tcptable.OwnerNotFound, 10},
		{tcptable.StateEstablished, "[::ffff:127.0.0.1]:8080", "[::ffff:127.0.0.1]:54321", 4242, tcptable.OwnerOK, 1},
	}, got)
	for _, c := range conns {
		if c.Local.Addr().Is4In6() {
			assert.Equal(t, tcptable.IPv6, c.Family(), "a dual-stack row stays IPv6")
		}
	}

	// The family and PID push-downs reach gopsutil.
	conns, err = p.Table(context.Background(), tcptable.Query{Family: tcptable.IPv6, PID: 4242})
	require.NoError(t, err)
	require.Len(t, conns, 1)
	assert.Equal(t, netip.MustParseAddrPort("[::ffff:127.0.0.1]:8080"), conns[0].Local)
}
