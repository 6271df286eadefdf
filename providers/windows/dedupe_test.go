package windows

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcptable/tcptable"
)

// naiveDedupe is the obvious quadratic statement of what deduper.dedupe
// does: the last row of each Key, in the place of the first.
func naiveDedupe(rows []tcptable.Connection) []tcptable.Connection {
	out := make([]tcptable.Connection, 0, len(rows))
	for _, c := range rows {
		if i := slices.IndexFunc(out, func(o tcptable.Connection) bool { return o.Key() == c.Key() }); i >= 0 {
			out[i] = c
		} else {
			out = append(out, c)
		}
	}
	return out
}

// TestParseTableDropsDuplicates decodes tables holding the duplicates a
// non-atomic walk produces (Wine reading /proc/net/tcp under churn).
func TestParseTableDropsDuplicates(t *testing.T) {
	est := testRow{state: 5, local: lo4, localPort: portDWORD(50000, 0), remote: lo4, remotePort: portDWORD(80, 0), pid: 10}
	fin := est
	fin.state = 6 // the same socket, seen again after it moved on
	other := testRow{state: 5, local: lo4, localPort: portDWORD(50001, 0), remote: lo4, remotePort: portDWORD(80, 0), pid: 10}
	tw := testRow{state: 11, local: lo4, localPort: portDWORD(50002, 0), remote: lo4, remotePort: portDWORD(80, 0)}
	ln := testRow{state: 2, local: any4, localPort: portDWORD(80, 0), pid: 10}
	lnJunk := ln
	lnJunk.remote, lnJunk.remotePort = peer4, portDWORD(7, 0) // a listener's remote members mean nothing
	lnOther := ln
	lnOther.pid = 11 // SO_REUSEADDR: another process on the same address is another socket

	got, err := ParseTable(encodeTable(false, 0, est, other, tw, ln, fin, tw, lnJunk, lnOther), tcptable.IPv4)
	require.NoError(t, err)
	var states []string
	for _, c := range got {
		states = append(states, c.State.String()+" "+c.Local.String()+" "+c.Remote.String()+" pid "+c.Key().String())
	}
	require.Len(t, got, 5, "rows: %q", states)
	assert.Equal(t, tcptable.StateFinWait1, got[0].State, "the later report wins, in the earlier's place")
	assert.Equal(t, uint16(50001), got[1].Local.Port(), "rows keep their order")
	assert.Equal(t, tcptable.StateTimeWait, got[2].State)
	assert.Equal(t, uint32(10), got[3].PID)
	assert.Equal(t, uint32(11), got[4].PID, "listeners of different processes on one address stay apart")

	ll := testRow{state: 5, local: ll6, localScope: 3, localPort: portDWORD(1, 0), remote: ll6, remoteScope: 3, remotePort: portDWORD(2, 0), pid: 1}
	llOther := ll
	llOther.localScope, llOther.remoteScope = 4, 4 // the same addresses on another interface
	got, err = ParseTable(encodeTable(true, 0, ll, llOther, ll), tcptable.IPv6)
	require.NoError(t, err)
	require.Len(t, got, 2, "zones tell sockets apart")
	assert.Equal(t, "3", got[0].Local.Addr().Zone())
	assert.Equal(t, "4", got[1].Local.Addr().Zone())
}

// TestDedupeLarge checks the hash table against naiveDedupe beyond the
// stack-sized table, with many collisions of everything but the port, and
// that src maps every kept row to its original index.
func TestDedupeLarge(t *testing.T) {
	for _, n := range []int{0, 1, 255, 256, 257, 3000} {
		rows := make([]tcptable.Connection, n)
		for i := range rows {
			// Every port appears about three times, in varying states.
			port := uint16(1 + (i*7919)%max(1, n/3+1))
			rows[i] = tcptable.Connection{State: tcptable.State(1 + i%11), PID: uint32(i),
				Local: netip.AddrPortFrom(lo4, port), Remote: netip.AddrPortFrom(peer4, 443)}
		}
		want := naiveDedupe(rows)
		orig := slices.Clone(rows)
		src := make([]int32, n)
		d := newDeduper()
		got := d.dedupe(rows, src)
		require.Equal(t, want, got, "%d rows", n)
		for i, c := range got {
			assert.Equal(t, orig[src[i]], c, "src[%d] of %d rows", i, n)
		}
		again := d.dedupe(slices.Clone(orig), nil) // a reused deduper forgets the last call
		require.Equal(t, want, again, "%d rows, reused", n)
	}
}

// TestDedupeNoAllocation: small tables need no memory; a reused deduper
// keeps the table it grew.
func TestDedupeNoAllocation(t *testing.T) {
	rows := make([]tcptable.Connection, 1000)
	for i := range rows {
		rows[i] = tcptable.Connection{State: tcptable.StateEstablished,
			Local: netip.AddrPortFrom(lo4, uint16(i+1)), Remote: netip.AddrPortFrom(lo4, 80)}
	}
	d := newDeduper()
	for _, n := range []int{smallTable, len(rows)} {
		d.dedupe(rows[:n], nil)
		allocs := testing.AllocsPerRun(10, func() { d.dedupe(rows[:n], nil) })
		assert.Zero(t, allocs, "%d rows", n)
	}
}
