package windows

import (
	"encoding/binary"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcptable/tcptable"
)

var (
	lo4    = netip.MustParseAddr("127.0.0.1")
	peer4  = netip.MustParseAddr("192.0.2.7")
	any4   = netip.IPv4Unspecified()
	any6   = netip.IPv6Unspecified()
	lo6    = netip.MustParseAddr("::1")
	ll6    = netip.MustParseAddr("fe80::1:2")
	glob6  = netip.MustParseAddr("2001:db8::5")
	mapped = netip.MustParseAddr("::ffff:10.1.2.3")
	when   = time.Date(2024, 1, 2, 3, 4, 5, 123456700, time.UTC)
)

func TestFiletimeToTime(t *testing.T) {
	assert.True(t, filetimeToTime(0).IsZero(), "0 means not recorded")
	// 2024-01-01T00:00:00Z is 133485408000000000 in FILETIME units.
	assert.Equal(t, time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), filetimeToTime(133485408000000000))
	assert.Equal(t, time.Date(1601, 1, 1, 0, 0, 0, 100, time.UTC), filetimeToTime(1))
	got := filetimeToTime(toFiletime(when))
	assert.Equal(t, when, got)
	assert.Equal(t, time.UTC, got.Location())
}

func TestParseTable(t *testing.T) {
	info := [16]uint64{0x1122334455667788, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xffffffffffffffff}
	tests := []struct {
		name string
		ipv6 bool
		row  testRow
		want tcptable.Connection
	}{{
		name: "ipv4 established, junk in port upper bits, timestamp and module info",
		row: testRow{state: 5, local: lo4, localPort: portDWORD(0x1234, 0xBEEF), remote: peer4,
			remotePort: portDWORD(443, 0xFFFF), pid: 4242, created: toFiletime(when), info: info},
		want: tcptable.Connection{State: tcptable.StateEstablished, OSState: 5,
			Local: netip.AddrPortFrom(lo4, 0x1234), Remote: netip.AddrPortFrom(peer4, 443),
			PID: 4242, OwnerStatus: tcptable.OwnerOK, Created: when, OwningModuleInfo: &info},
	}, {
		name: "ipv4 listener: remote members have no meaning",
		row: testRow{state: 2, local: any4, localPort: portDWORD(8080, 0), remote: peer4,
			remotePort: portDWORD(9, 0), pid: 7},
		want: tcptable.Connection{State: tcptable.StateListen, OSState: 2,
			Local: netip.AddrPortFrom(any4, 8080), Remote: netip.AddrPortFrom(any4, 0),
			PID: 7, OwnerStatus: tcptable.OwnerOK},
	}, {
		name: "ipv4 time-wait owned by the idle process",
		row: testRow{state: 11, local: lo4, localPort: portDWORD(50000, 0), remote: lo4,
			remotePort: portDWORD(80, 0)},
		want: tcptable.Connection{State: tcptable.StateTimeWait, OSState: 11,
			Local: netip.AddrPortFrom(lo4, 50000), Remote: netip.AddrPortFrom(lo4, 80),
			OwnerStatus: tcptable.OwnerKernel, ModuleStatus: tcptable.OwnerKernel},
	}, {
		name: "unknown state value is kept",
		row:  testRow{state: 99, local: lo4, localPort: portDWORD(1, 0), remote: lo4, remotePort: portDWORD(2, 0), pid: 1},
		want: tcptable.Connection{State: 99, OSState: 99, Local: netip.AddrPortFrom(lo4, 1),
			Remote: netip.AddrPortFrom(lo4, 2), PID: 1, OwnerStatus: tcptable.OwnerOK},
	}, {
		name: "state too large for State keeps OSState only",
		row:  testRow{state: 0x10005, local: lo4, localPort: portDWORD(1, 0), remote: lo4, remotePort: portDWORD(2, 0), pid: 1},
		want: tcptable.Connection{State: 0, OSState: 0x10005, Local: netip.AddrPortFrom(lo4, 1),
			Remote: netip.AddrPortFrom(lo4, 2), PID: 1, OwnerStatus: tcptable.OwnerOK},
	}, {
		name: "ipv6 link-local keeps its scope id as zone",
		ipv6: true,
		row: testRow{state: 5, local: ll6, localScope: 12, localPort: portDWORD(0xABCD, 0x5555),
			remote: ll6, remoteScope: 12, remotePort: portDWORD(22, 0), pid: 900, created: toFiletime(when), info: info},
		want: tcptable.Connection{State: tcptable.StateEstablished, OSState: 5,
			Local: netip.AddrPortFrom(ll6.WithZone("12"), 0xABCD), Remote: netip.AddrPortFrom(ll6.WithZone("12"), 22),
			PID: 900, OwnerStatus: tcptable.OwnerOK, Created: when, OwningModuleInfo: &info},
	}, {
		name: "ipv6 scope id on a global or loopback address is dropped",
		ipv6: true,
		row: testRow{state: 5, local: lo6, localScope: 1, localPort: portDWORD(1000, 0),
			remote: glob6, remoteScope: 77, remotePort: portDWORD(2000, 0), pid: 3},
		want: tcptable.Connection{State: tcptable.StateEstablished, OSState: 5,
			Local: netip.AddrPortFrom(lo6, 1000), Remote: netip.AddrPortFrom(glob6, 2000),
			PID: 3, OwnerStatus: tcptable.OwnerOK},
	}, {
		name: "ipv6 listener and ipv4-mapped local address",
		ipv6: true,
		row: testRow{state: 2, local: mapped, localPort: portDWORD(0x0102, 0), remote: glob6,
			remotePort: portDWORD(5, 0), pid: 3},
		want: tcptable.Connection{State: tcptable.StateListen, OSState: 2,
			Local: netip.AddrPortFrom(mapped, 0x0102), Remote: netip.AddrPortFrom(any6, 0),
			PID: 3, OwnerStatus: tcptable.OwnerOK},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := tcptable.IPv4
			if tt.ipv6 {
				f = tcptable.IPv6
			}
			// A second row, the same but for its local port, so that it is
			// another socket.
			row2, want2 := tt.row, tt.want
			row2.localPort = portDWORD(tt.want.Local.Port()+1, 0)
			want2.Local = netip.AddrPortFrom(tt.want.Local.Addr(), tt.want.Local.Port()+1)
			for _, slack := range []int{0, 1, 300} {
				got, err := ParseTable(encodeTable(tt.ipv6, slack, tt.row, row2), f)
				require.NoError(t, err, "slack %d", slack)
				require.Equal(t, []tcptable.Connection{tt.want, want2}, got, "slack %d", slack)
				if tt.want.OwningModuleInfo != nil {
					assert.NotSame(t, got[0].OwningModuleInfo, got[1].OwningModuleInfo, "rows share no module info")
				}
			}
		})
	}
}

func TestParseTableEmpty(t *testing.T) {
	for _, f := range []tcptable.Family{tcptable.IPv4, tcptable.IPv6} {
		for _, b := range [][]byte{{0, 0, 0, 0}, make([]byte, 8), encodeTable(f == tcptable.IPv6, 160)} {
			got, err := ParseTable(b, f)
			require.NoError(t, err, "%v %d bytes", f, len(b))
			assert.Empty(t, got)
		}
	}
}

func TestParseTableErrors(t *testing.T) {
	withCount := func(n uint32, size int) []byte {
		b := make([]byte, size)
		binary.LittleEndian.PutUint32(b, n)
		return b
	}
	tests := []struct {
		name string
		b    []byte
		f    tcptable.Family
		want string
	}{
		{"nil buffer", nil, tcptable.IPv4, "buffer of 0 bytes is too short for dwNumEntries"},
		{"three bytes", []byte{1, 0, 0}, tcptable.IPv6, "MIB_TCP6TABLE_OWNER_MODULE: buffer of 3 bytes is too short"},
		{"one row, header only", withCount(1, 8), tcptable.IPv4, "dwNumEntries 1 needs 168 bytes (8-byte header + 160-byte rows) but the buffer holds 8"},
		{"row one byte short", withCount(1, 167), tcptable.IPv4, "needs 168 bytes"},
		{"ipv6 row one byte short", withCount(2, 8+192*2-1), tcptable.IPv6, "dwNumEntries 2 needs 392 bytes"},
		{"ipv4-sized rows read as ipv6", withCount(2, 8+160*2), tcptable.IPv6, "needs 392 bytes"},
		{"absurd count", withCount(0xFFFFFFFF, 4096), tcptable.IPv4, "dwNumEntries 4294967295 is absurd"},
		{"count just above the cap", withCount(maxRows+1, 64), tcptable.IPv6, "is absurd"},
		{"no family", withCount(0, 8), tcptable.AnyFamily, "family any"},
		{"unknown family", withCount(0, 8), tcptable.Family(9), "family Family(9)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseTable(tt.b, tt.f)
			require.Error(t, err)
			assert.ErrorIs(t, err, tcptable.ErrInvalid)
			assert.Contains(t, err.Error(), tt.want)
			assert.True(t, strings.HasPrefix(err.Error(), "tcptable/windows: invalid input: "), "%q", err)
			assert.Equal(t, 1, strings.Count(err.Error(), "tcptable/windows"), "%q names the package once", err)
			assert.Nil(t, got)
		})
	}
}

func TestAppendTable(t *testing.T) {
	row := testRow{state: 5, local: lo4, localPort: portDWORD(1, 0), remote: lo4, remotePort: portDWORD(2, 0), pid: 1}
	prev := []tcptable.Connection{{PID: 99}}
	dst := append(make([]tcptable.Connection, 0, 8), prev...)

	got, err := AppendTable(dst, encodeTable(false, 0, row), tcptable.IPv4)
	require.NoError(t, err)
	require.Len(t, got, 2)
	assert.Equal(t, prev[0], got[0], "existing rows are kept")
	assert.Equal(t, uint32(1), got[1].PID)
	assert.Same(t, &dst[:1][0], &got[0], "capacity is reused")

	bad, err := AppendTable(got, []byte{1}, tcptable.IPv4)
	require.Error(t, err)
	assert.Equal(t, got, bad, "dst unchanged on error")
}

func TestAppendTableAllocations(t *testing.T) {
	rows := make([]testRow, 100)
	for i := range rows {
		rows[i] = testRow{state: 5, local: lo6, localPort: portDWORD(uint16(i+1), 0), remote: lo6,
			remotePort: portDWORD(80, 0), pid: 1}
	}
	b := encodeTable(true, 0, rows...)
	dst := make([]tcptable.Connection, 0, len(rows))
	allocs := testing.AllocsPerRun(10, func() {
		var err error
		if dst, err = AppendTable(dst[:0], b, tcptable.IPv6); err != nil {
			t.Fatal(err)
		}
	})
	assert.Zero(t, allocs, "rows without module info or zones need no allocation")

	rows[0].info[3] = 1
	rows[1].info[0] = 1
	b = encodeTable(true, 0, rows...)
	allocs = testing.AllocsPerRun(10, func() {
		var err error
		if dst, err = AppendTable(dst[:0], b, tcptable.IPv6); err != nil {
			t.Fatal(err)
		}
	})
	assert.Equal(t, 1.0, allocs, "module infos share one allocation")
	assert.Equal(t, uint64(1), dst[0].OwningModuleInfo[3])
	assert.Equal(t, uint64(1), dst[1].OwningModuleInfo[0])
	assert.Nil(t, dst[2].OwningModuleInfo)
}

// TestParseTableMessageQuotesSizes checks the error names both the count and
// the buffer length, the two numbers a bug report needs.
func TestParseTableMessageQuotesSizes(t *testing.T) {
	b := make([]byte, 100)
	binary.LittleEndian.PutUint32(b, 3)
	_, err := ParseTable(b, tcptable.IPv4)
	require.Error(t, err)
	assert.True(t, strings.Contains(err.Error(), "dwNumEntries 3") && strings.Contains(err.Error(), "holds 100"), err.Error())
}
