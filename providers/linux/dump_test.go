package linux

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcptable/tcptable"
)

// fakeDumper yields two rows per call and reports an interruption for the
// first intr calls of each family.
func fakeDumper(intr map[uint8]int, calls map[uint8]int) dumper {
	return func(_ context.Context, fam uint8, _ uint32, _ uint8, fn func(*diagRow)) (bool, error) {
		calls[fam]++
		for range 2 {
			fn(&diagRow{Family: fam, State: tcpEstablished, Inode: uint32(calls[fam])})
		}
		return calls[fam] <= intr[fam], nil
	}
}

func runDump(t *testing.T, intr map[uint8]int, retries int) ([]tcptable.Connection, map[uint8]int, error) {
	t.Helper()
	calls := map[uint8]int{}
	var rows []tcptable.Connection
	add := func(r *diagRow) {
		c, ok := connFromRow(r, numericZone)
		require.True(t, ok)
		rows = append(rows, c)
	}
	err := dumpFamilies(context.Background(), []uint8{afInet, afInet6}, ^uint32(0), 0, retries, fakeDumper(intr, calls), &rows, add)
	return rows, calls, err
}

func TestDumpFamiliesRetries(t *testing.T) {
	rows, calls, err := runDump(t, map[uint8]int{afInet6: 2}, 3)
	require.NoError(t, err)
	assert.Equal(t, map[uint8]int{afInet: 1, afInet6: 3}, calls)
	require.Len(t, rows, 4, "the interrupted attempts' rows are dropped")
	assert.Equal(t, uint64(3), rows[2].Socket, "rows come from the consistent attempt")
}

func TestDumpFamiliesInconsistent(t *testing.T) {
	rows, calls, err := runDump(t, map[uint8]int{afInet: 99}, 2)
	require.ErrorIs(t, err, tcptable.ErrInconsistent)
	assert.Contains(t, err.Error(), "AF_INET]")
	assert.Equal(t, 3, calls[afInet], "one try and two retries")
	assert.Len(t, rows, 4, "the last attempt's rows are returned with the error")
}

func TestDumpFamiliesError(t *testing.T) {
	boom := errors.New("boom")
	var rows []tcptable.Connection
	err := dumpFamilies(context.Background(), []uint8{afInet}, 1, 0, 3,
		func(context.Context, uint8, uint32, uint8, func(*diagRow)) (bool, error) { return false, boom }, &rows, func(*diagRow) {})
	assert.ErrorIs(t, err, boom)
}

func TestFamilies(t *testing.T) {
	assert.Equal(t, []uint8{afInet, afInet6}, families(tcptable.Query{}))
	assert.Equal(t, []uint8{afInet}, families(tcptable.Query{Family: tcptable.IPv4}))
	assert.Equal(t, []uint8{afInet6}, families(tcptable.Query{Family: tcptable.IPv6}))
}

func TestJoinParts(t *testing.T) {
	conn := func(ino uint64) tcptable.Connection { return tcptable.Connection{Socket: ino} }
	rows := make([]tcptable.Connection, 6)
	caps := []int{3, 3}
	p0 := append(rows[0:0:3], conn(1))
	p1 := append(rows[3:3:6], conn(2), conn(3))
	out := joinParts(rows, [][]tcptable.Connection{p0, p1}, caps)
	assert.Equal(t, []tcptable.Connection{conn(1), conn(2), conn(3)}, out)
	assert.Same(t, &rows[0], &out[0], "joined in place")
	assert.Equal(t, tcptable.Connection{}, rows[4], "tail cleared")

	// A gap smaller than the next part is filled with its last rows.
	rows = make([]tcptable.Connection, 8)
	p0 = append(rows[0:0:2], conn(1))
	p1 = append(rows[2:2:6], conn(2), conn(3), conn(4))
	p2 := append(rows[6:6:8], conn(5))
	out = joinParts(rows, [][]tcptable.Connection{p0, p1, p2}, []int{2, 4, 2})
	assert.ElementsMatch(t, []tcptable.Connection{conn(1), conn(2), conn(3), conn(4), conn(5)}, out)
	assert.Same(t, &rows[0], &out[0], "joined in place")
	assert.Equal(t, []tcptable.Connection{{}, {}, {}}, rows[5:8], "tail cleared")

	// A part that outgrew its region lives elsewhere: copied out.
	rows = make([]tcptable.Connection, 2)
	p0 = append(rows[0:0:1], conn(1), conn(2))
	p1 = append(rows[1:1:2], conn(3))
	out = joinParts(rows, [][]tcptable.Connection{p0, p1}, []int{1, 1})
	assert.Equal(t, []tcptable.Connection{conn(1), conn(2), conn(3)}, out)
}

// TestDiagFamilies: a sock_diag dump for IPv4 reads AF_INET6 too, for its
// dual-stack sockets, in the states they can be in only (LISTEN, CLOSE,
// BOUND_INACTIVE); an IPv4 query that selects none of those reads AF_INET
// alone.
func TestDiagFamilies(t *testing.T) {
	v4 := tcptable.Query{Family: tcptable.IPv4}
	assert.Equal(t, []uint8{afInet, afInet6}, diagFamilies(tcptable.Query{}))
	assert.Equal(t, []uint8{afInet, afInet6}, diagFamilies(v4))
	assert.Equal(t, []uint8{afInet6}, diagFamilies(tcptable.Query{Family: tcptable.IPv6}))
	assert.Equal(t, []uint8{afInet}, diagFamilies(tcptable.Query{Family: tcptable.IPv4, Class: tcptable.ClassConnections,
		States: []tcptable.State{tcptable.StateEstablished}}))

	mask := stateMask(v4)
	assert.Equal(t, mask, familyMask(v4, mask, afInet))
	assert.Equal(t, uint32(1<<tcpListen|1<<tcpClose|1<<tcpBoundInactive), familyMask(v4, mask, afInet6))
	listeners := tcptable.Query{Family: tcptable.IPv4, Class: tcptable.ClassListeners}
	assert.Equal(t, uint32(1<<tcpListen), familyMask(listeners, stateMask(listeners), afInet6))
	assert.Equal(t, stateMask(tcptable.Query{}), familyMask(tcptable.Query{}, stateMask(tcptable.Query{}), afInet6))
}
