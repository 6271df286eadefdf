package linux

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcptable/tcptable"
)

const procNetHeader = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"

// procNetLine is a /proc/net/tcp line from 127.0.0.1:8080 to 127.0.0.1
// port rport (4 hex digits; 0.0.0.0:0 for a listener) in kernel state st,
// with inode ino.
func procNetLine(st, ino, rport string) string {
	remote := "0100007F:" + rport
	if st == "0A" {
		remote = "00000000:0000"
	}
	return "   0: 0100007F:1F90 " + remote + " " + st + " 00000000:00000000 00:00000000 00000000     0        0 " + ino + " 1 0000000000000000 20 4 30 10 -1\n"
}

// procNetRoot returns a provider reading tcp (and an empty tcp6) from a
// procfs root of its own.
func procNetRoot(t *testing.T, tcp string) *Provider {
	t.Helper()
	littleEndian(t)
	root := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(root, "net"), 0o755))
	if tcp != "" {
		require.NoError(t, os.WriteFile(filepath.Join(root, "net", "tcp"), []byte(procNetHeader+tcp), 0o644))
	}
	require.NoError(t, os.WriteFile(filepath.Join(root, "net", "tcp6"), []byte(procNetHeader), 0o644))
	p, err := New(WithSource(SourceProcNet), WithProcRoot(root), WithOwnerScan(OwnerScanProcfs))
	require.NoError(t, err)
	t.Cleanup(func() { p.Close() })
	return p
}

var noOwners = tcptable.Query{Owners: tcptable.OwnerNone}

// TestProcNetDuplicateTuple: a connection the walk met in the accept queue
// (no inode) and again accepted (with one) is one row, the later.
func TestProcNetDuplicateTuple(t *testing.T) {
	p := procNetRoot(t, procNetLine("01", "0", "C350")+procNetLine("0A", "77", "")+procNetLine("01", "4242", "C350"))
	rows, err := p.Table(context.Background(), noOwners)
	require.NoError(t, err)
	require.Len(t, rows, 2)
	assert.Equal(t, uint64(4242), rows[0].Socket, "the later report replaces the earlier")
	assert.Equal(t, uint64(77), rows[1].Socket)
	assert.NotEqual(t, rows[0].Key(), rows[1].Key())
}

// TestProcNetUndefinedState: a row in a state the kernel's headers do not
// define is kept with State 0 and its code, for queries that match State
// 0, as documented.
func TestProcNetUndefinedState(t *testing.T) {
	p := procNetRoot(t, procNetLine("0E", "5", "C350")+procNetLine("01", "6", "C351")+procNetLine("FF", "7", "C352"))
	for _, tc := range []struct {
		q    tcptable.Query
		want []uint64
	}{
		{noOwners, []uint64{5, 6, 7}},
		{tcptable.Query{Owners: tcptable.OwnerNone, Class: tcptable.ClassConnections}, []uint64{5, 6, 7}},
		{tcptable.Query{Owners: tcptable.OwnerNone, Class: tcptable.ClassListeners}, nil},
		{tcptable.Query{Owners: tcptable.OwnerNone, States: []tcptable.State{tcptable.StateEstablished}}, []uint64{6}},
	} {
		rows, err := p.Table(context.Background(), tc.q)
		require.NoError(t, err)
		var got []uint64
		for _, c := range rows {
			got = append(got, c.Socket)
			assert.True(t, tc.q.Match(c), "%v does not match %+v", c, tc.q)
			if c.Socket != 6 {
				assert.Equal(t, tcptable.State(0), c.State)
			}
		}
		assert.Equal(t, tc.want, got, "%+v", tc.q)
		if len(rows) == 3 {
			assert.Equal(t, uint32(14), rows[0].OSState)
			assert.Equal(t, uint32(255), rows[2].OSState)
		}
	}
}

// TestProcNetLongLine: a line longer than maxProcNetLine is an error that
// names it, however long.
func TestProcNetLongLine(t *testing.T) {
	for _, n := range []int{maxProcNetLine + 1, 100 << 10} {
		long := strings.TrimSuffix(procNetLine("01", "5", "C351"), "\n") + strings.Repeat(" 0", n/2) + "\n"
		p := procNetRoot(t, procNetLine("01", "4", "C350")+long)
		_, err := p.Table(context.Background(), noOwners)
		require.ErrorIs(t, err, errProcNet)
		assert.Contains(t, err.Error(), "line 3")
	}
}

// TestProcRootFIFO: a FIFO in the place of /proc/net/tcp, or of a
// process's stat under the procfs root, does not block the provider.
func TestProcRootFIFO(t *testing.T) {
	p := procNetRoot(t, "")
	root := p.cfg.procRoot
	require.NoError(t, syscall.Mkfifo(filepath.Join(root, "net", "tcp"), 0o644))
	require.NoError(t, os.MkdirAll(filepath.Join(root, "42", "fd"), 0o755))
	require.NoError(t, syscall.Mkfifo(filepath.Join(root, "42", "stat"), 0o644))
	done := make(chan error, 1)
	go func() {
		_, err := p.Table(context.Background(), tcptable.Query{})
		done <- err
	}()
	select {
	case err := <-done:
		require.ErrorIs(t, err, tcptable.ErrInvalid)
		assert.Contains(t, err.Error(), "not a regular file")
	case <-time.After(time.Minute):
		t.Fatal("Table blocks on a FIFO under the procfs root")
	}
}
