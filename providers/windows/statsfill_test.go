package windows

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcptable/tcptable"
)

// fakeConnStats is one connection's extended statistics in fakeEStats.
type fakeConnStats struct {
	enabled map[estatsType]bool
	data    [96]byte  // TCP_ESTATS_DATA_ROD_v0
	path    [160]byte // TCP_ESTATS_PATH_ROD_v0
}

// setCounters writes the counters at the offsets of the mingw-w64 headers,
// as literal numbers (not the package's constants).
func (s *fakeConnStats) setCounters(bytesOut, thruIn, segsOut, segsIn uint64, retrans, rttMs uint32) {
	le := binary.LittleEndian
	le.PutUint64(s.data[0:], bytesOut)  // DataBytesOut
	le.PutUint64(s.data[16:], 999999)   // DataBytesIn: not what BytesReceived means
	le.PutUint64(s.data[32:], segsOut)  // SegsOut
	le.PutUint64(s.data[40:], segsIn)   // SegsIn
	le.PutUint64(s.data[88:], thruIn)   // ThruBytesReceived
	le.PutUint32(s.path[20:], retrans)  // PktsRetrans
	le.PutUint32(s.path[108:], rttMs)   // SmoothedRtt
	le.PutUint32(s.path[104:], 1000000) // SampleRtt: not the smoothed one
}

// fakeEStats is an estatsOS over connections named by their endpoints as
// read back from the MIB_TCPROW / MIB_TCP6ROW it is given (so a wrong row
// finds nothing).
type fakeEStats struct {
	supported bool
	conns     map[string]*fakeConnStats
	denied    bool // switching on needs a privilege the caller lacks
	stub      bool // switching on succeeds and changes nothing
	calls     []string
}

// mibName decodes a MIB_TCPROW or MIB_TCP6ROW at the documented offsets.
func mibName(mib []byte, ipv6 bool) string {
	port := func(b []byte) uint16 { return binary.BigEndian.Uint16(b) }
	if !ipv6 {
		l := netip.AddrPortFrom(netip.AddrFrom4([4]byte(mib[4:8])), port(mib[8:]))
		r := netip.AddrPortFrom(netip.AddrFrom4([4]byte(mib[12:16])), port(mib[16:]))
		return fmt.Sprintf("%v %v", l, r)
	}
	l := netip.AddrPortFrom(netip.AddrFrom16([16]byte(mib[4:20])), port(mib[24:]))
	r := netip.AddrPortFrom(netip.AddrFrom16([16]byte(mib[28:44])), port(mib[48:]))
	return fmt.Sprintf("%v%%%d %v%%%d state %d", l, binary.LittleEndian.Uint32(mib[20:]), r, binary.LittleEndian.Uint32(mib[44:]),
		binary.LittleEndian.Uint32(mib[0:]))
}

func (f *fakeEStats) estatsSupported(bool) bool { return f.supported }

func (f *fakeEStats) getEStats(mib []byte, ipv6 bool, t estatsType, rod []byte) (bool, error) {
	name := mibName(mib, ipv6)
	f.calls = append(f.calls, "get "+t.String()+" "+name)
	c, ok := f.conns[name]
	if !ok {
		return false, fmt.Errorf("GetPerTcpConnectionEStats: %w", tcptable.ErrNotFound)
	}
	if !c.enabled[t] {
		return false, nil
	}
	switch t {
	case estatsData:
		copy(rod, c.data[:])
	case estatsPath:
		copy(rod, c.path[:])
	}
	return true, nil
}

func (f *fakeEStats) enableEStats(mib []byte, ipv6 bool, t estatsType) error {
	name := mibName(mib, ipv6)
	f.calls = append(f.calls, "enable "+t.String()+" "+name)
	if f.denied {
		return fmt.Errorf("SetPerTcpConnectionEStats: %w", tcptable.ErrPermission)
	}
	if c, ok := f.conns[name]; ok && !f.stub {
		c.enabled[t] = true
	}
	return nil
}

func newConnStats(enabled bool) *fakeConnStats {
	return &fakeConnStats{enabled: map[estatsType]bool{estatsData: enabled, estatsPath: enabled}}
}

// statsSetup is a table with a listener, an established pair, a TIME-WAIT
// row and a link-local IPv6 connection, and the fake's statistics for the
// three connections.
func statsSetup(t *testing.T) (*engine, *fakeTables, *fakeEStats, *time.Time) {
	t.Helper()
	rows := append(pair4(50000, 80, 7),
		testRow{state: 2, local: lo4, localPort: portDWORD(80, 0), pid: 7},
		testRow{state: 11, local: lo4, localPort: portDWORD(50001, 0), remote: lo4, remotePort: portDWORD(80, 0)})
	v6 := []testRow{{state: 5, local: ll6, localScope: 12, localPort: portDWORD(6000, 0), remote: ll6, remoteScope: 12,
		remotePort: portDWORD(22, 0), pid: 9}}
	st := &fakeEStats{supported: true, conns: map[string]*fakeConnStats{
		"127.0.0.1:50000 127.0.0.1:80":                  newConnStats(false),
		"127.0.0.1:80 127.0.0.1:50000":                  newConnStats(false),
		"[fe80::1:2]:6000%12 [fe80::1:2]:22%12 state 5": newConnStats(false),
	}}
	st.conns["127.0.0.1:50000 127.0.0.1:80"].setCounters(1000, 2000, 10, 20, 3, 7)
	tables := &fakeTables{v4: rows, v6: v6}
	e := testEngine(t, tables, st, false)
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	e.stats.now = func() time.Time { return now }
	return e, tables, st, &now
}

// byLocal returns the row with local port p and remote port r.
func byLocal(t *testing.T, rows []tcptable.Connection, p, r uint16) tcptable.Connection {
	t.Helper()
	for _, c := range rows {
		if c.Local.Port() == p && c.Remote.Port() == r {
			return c
		}
	}
	t.Fatalf("no row %d -> %d in %v", p, r, rows)
	return tcptable.Connection{}
}

func TestStatsSwitchedOnAndCounted(t *testing.T) {
	e, _, st, now := statsSetup(t)
	t0 := *now
	rows, err := e.table(context.Background(), tcptable.Query{Stats: true, Owners: tcptable.OwnerNone})
	require.NoError(t, err)
	c := byLocal(t, rows, 50000, 80)
	require.Equal(t, tcptable.StatsPartial, c.StatsStatus)
	require.NotNil(t, c.Stats)
	assert.Equal(t, tcptable.Stats{BytesSent: 1000, BytesReceived: 2000, SegmentsSent: 10, SegmentsReceived: 20,
		Retransmits: 3, RTT: 7 * time.Millisecond, Since: t0}, *c.Stats)
	for _, r := range [][2]uint16{{80, 0}, {50001, 80}} {
		c := byLocal(t, rows, r[0], r[1])
		assert.Equal(t, tcptable.StatsNotAvailable, c.StatsStatus, "%v", c)
		assert.Nil(t, c.Stats)
	}
	ll := byLocal(t, rows, 6000, 22)
	assert.Equal(t, tcptable.StatsPartial, ll.StatsStatus, "the IPv6 row (scope ids passed on) is found")
	assert.Contains(t, st.calls, "enable TcpConnectionEstatsPath 127.0.0.1:50000 127.0.0.1:80")
	for _, call := range st.calls {
		assert.NotContains(t, call, ":50001", "no EStats call for TIME-WAIT rows")
	}

	// Later: collection is on; counters move on; Since stays.
	st.calls = nil
	*now = t0.Add(time.Minute)
	st.conns["127.0.0.1:50000 127.0.0.1:80"].setCounters(5000, 6000, 50, 60, 4, 8)
	rows, err = e.table(context.Background(), tcptable.Query{Stats: true, Port: 50000})
	require.NoError(t, err)
	c = byLocal(t, rows, 50000, 80)
	assert.Equal(t, uint64(5000), c.Stats.BytesSent)
	assert.Equal(t, t0, c.Stats.Since, "counting began when the provider switched collection on")
	for _, call := range st.calls {
		assert.NotContains(t, call, "enable", "collection is switched on once")
	}
}

func TestStatsSwitchedOnByAnother(t *testing.T) {
	e, _, st, now := statsSetup(t)
	st.conns["127.0.0.1:50000 127.0.0.1:80"].enabled = map[estatsType]bool{estatsData: true, estatsPath: true}
	st.denied = true // reading needs no privilege
	rows, err := e.table(context.Background(), tcptable.Query{Stats: true})
	require.NoError(t, err)
	c := byLocal(t, rows, 50000, 80)
	require.Equal(t, tcptable.StatsPartial, c.StatsStatus)
	assert.Equal(t, *now, c.Stats.Since, "counting began no later than the first sight")
	other := byLocal(t, rows, 80, 50000)
	assert.Equal(t, tcptable.StatsPermissionDenied, other.StatsStatus)
	assert.Nil(t, other.Stats)
	enables := 0
	for _, call := range st.calls {
		if call[:6] == "enable" {
			enables++
		}
	}
	assert.Equal(t, 1, enables, "a refusal is not asked again in the same call")

	// Someone switches collection off; an elevated provider switches it on
	// again: counting restarted.
	st.denied = false
	st.conns["127.0.0.1:50000 127.0.0.1:80"].enabled[estatsPath] = false
	*now = now.Add(time.Hour)
	rows, err = e.table(context.Background(), tcptable.Query{Stats: true})
	require.NoError(t, err)
	assert.Equal(t, *now, byLocal(t, rows, 50000, 80).Stats.Since)
}

func TestStatsStatuses(t *testing.T) {
	e, tables, st, now := statsSetup(t)
	st.supported = false
	rows, err := e.table(context.Background(), tcptable.Query{Stats: true})
	require.NoError(t, err)
	for _, c := range rows {
		assert.Equal(t, tcptable.StatsNotSupported, c.StatsStatus, "%v", c)
	}
	assert.Empty(t, st.calls)

	st.supported, st.stub = true, true
	rows, err = e.table(context.Background(), tcptable.Query{Stats: true})
	require.NoError(t, err)
	assert.Equal(t, tcptable.StatsNotSupported, byLocal(t, rows, 50000, 80).StatsStatus, "switched on, still off")

	st.stub = false
	delete(st.conns, "127.0.0.1:80 127.0.0.1:50000") // the OS no longer knows it
	rows, err = e.table(context.Background(), tcptable.Query{Stats: true})
	require.NoError(t, err)
	assert.Equal(t, tcptable.StatsNotAvailable, byLocal(t, rows, 80, 50000).StatsStatus)
	t0 := *now
	assert.Equal(t, t0, byLocal(t, rows, 50000, 80).Stats.Since)

	// The connection ends and a new one takes its four-tuple: the tracker
	// forgot the old one, so the new one's Since is its own.
	v4 := tables.v4
	tables.v4 = v4[2:]
	_, err = e.table(context.Background(), tcptable.Query{Owners: tcptable.OwnerNone})
	require.NoError(t, err)
	assert.Len(t, e.stats.since, 1, "only the IPv6 connection is remembered")
	tables.v4 = v4
	*now = t0.Add(time.Hour)
	rows, err = e.table(context.Background(), tcptable.Query{Stats: true})
	require.NoError(t, err)
	assert.Equal(t, *now, byLocal(t, rows, 50000, 80).Stats.Since)
}

// TestMibRow checks the rows handed to the EStats functions and SetTcpEntry
// against the MIB_TCPROW and MIB_TCP6ROW layouts (mingw-w64 offsetof).
func TestMibRow(t *testing.T) {
	r4 := testRow{state: 5, local: lo4, localPort: portDWORD(50000, 0xBEEF), remote: peer4, remotePort: portDWORD(443, 0), pid: 1}
	var mib mibBuf
	row := mibRow(&mib, encodeTable(false, 0, r4)[8:], false)
	require.Len(t, row, 20)
	assert.Equal(t, "127.0.0.1:50000 192.0.2.7:443", mibName(row, false))
	assert.Equal(t, uint32(5), binary.LittleEndian.Uint32(row))
	assert.Equal(t, portDWORD(50000, 0xBEEF), binary.LittleEndian.Uint32(row[8:]), "the port DWORD as stored")

	r6 := testRow{state: 8, local: ll6, localScope: 12, localPort: portDWORD(1, 0), remote: glob6, remoteScope: 5, remotePort: portDWORD(2, 0)}
	row = mibRow(&mib, encodeTable(true, 0, r6)[8:], true)
	require.Len(t, row, 52)
	assert.Equal(t, "[fe80::1:2]:1%12 [2001:db8::5]:2%5 state 8", mibName(row, true))
}

// TestDecodeEStats: sizes are checked, never a panic.
func TestDecodeEStats(t *testing.T) {
	_, err := decodeEStats(make([]byte, 95), make([]byte, 160))
	assert.ErrorIs(t, err, tcptable.ErrInvalid)
	_, err = decodeEStats(make([]byte, 96), make([]byte, 159))
	assert.ErrorContains(t, err, "TCP_ESTATS_PATH_ROD_v0 of 159 bytes")
}
