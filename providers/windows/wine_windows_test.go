//go:build windows

package windows

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/conformance"
)

// Why Wine 8.0 needs each conformance gap. TestWineDeviations proves every
// one of them on the machine it runs on, and fails when Wine stops showing
// one, so that its gap can be removed.
const (
	wineOwnerReason = "Wine attributes a socket to a process only when that process holds the socket's fd " +
		"and the row is IPv4; listeners, accepted sockets and all IPv6 rows carry PID 0"
	wineStatsReason = "Wine exports no GetPerTcp(6)ConnectionEStats and its SetPerTcpConnectionEStats is a stub: " +
		"rows have no Stats (not-supported)"
	wineKillReason = "Wine's SetTcpEntry reports success and does nothing: Kill's verification finds the row still " +
		"there and fails with ErrNotSupported"
)

// TestMain warms Wine up: the first GetExtendedTcpTable call of a fresh
// prefix starts Wine's nsiproxy driver in winedevice.exe, which takes
// tens of seconds on a loaded machine. The call cannot be cancelled, so
// without the warm-up the suite's first Table call would overrun its
// context deadline.
//
// With envWineHelper set, the binary is the Wine side of a Linux test
// (wine_helper_windows_test.go) and runs no tests.
func TestMain(m *testing.M) {
	if mode := os.Getenv(envWineHelper); mode != "" {
		os.Exit(runWineHelper(mode))
	}
	if isWine() {
		start := time.Now()
		if p, err := New(); err == nil {
			_, err = p.Table(context.Background(), tcptable.Query{})
			fmt.Printf("wine warm-up: first Table call took %v (err %v)\n", time.Since(start).Round(time.Millisecond), err)
			_ = p.Close()
		}
	}
	os.Exit(m.Run())
}

// wineGaps returns the conformance gaps of Wine, or nothing on Windows.
func wineGaps() []conformance.Option {
	if !isWine() {
		return nil
	}
	return []conformance.Option{
		conformance.DeclareGap(conformance.NoListenerPID, "Wine 8.0: "+wineOwnerReason),
		conformance.DeclareGap(conformance.NoAcceptedPID, "Wine 8.0: "+wineOwnerReason),
		conformance.DeclareGap(conformance.NoIPv6PID, "Wine 8.0: "+wineOwnerReason),
		conformance.DeclareGap(conformance.NoStats, "Wine 8.0: "+wineStatsReason),
		conformance.DeclareGap(conformance.NoKill, "Wine 8.0: "+wineKillReason),
	}
}

// rawTable returns the raw table of fam and class, sorted if order is set.
func rawTable(t *testing.T, p *Provider, fam tcptable.Family, class uint32, order bool) []byte {
	t.Helper()
	af := uint32(afInet)
	if fam == tcptable.IPv6 {
		af = afInet6
	}
	buf, err := negotiate("raw", make([]byte, 4096), defaultTries, maxBufferSize, func(b []byte, size *uint32) error {
		return p.procs.tcpTable(b, size, af, class, order)
	})
	require.NoError(t, err)
	return buf
}

// TestWineDeviations proves, under Wine, each deviation docs/windows.md
// lists and the provider copes with. On Windows it is skipped.
func TestWineDeviations(t *testing.T) {
	if !isWine() {
		t.Skip("not running under Wine (ntdll.dll does not export wine_get_version)")
	}
	env := conformance.OSEnv()
	me := uint32(os.Getpid())
	ln4, err := env.Listen("tcp4")
	require.NoError(t, err)
	defer ln4.Close()
	ln6, err := env.Listen("tcp6")
	require.NoError(t, err)
	defer ln6.Close()
	pair4, err := env.Dial("tcp4")
	require.NoError(t, err)
	defer pair4.Close()
	pair6, err := env.Dial("tcp6")
	require.NoError(t, err)
	defer pair6.Close()
	half, err := env.Dial("tcp4")
	require.NoError(t, err)
	defer half.Close()
	require.NoError(t, half.CloseWrite())

	p := newProvider(t)
	rows, err := p.Table(context.Background(), tcptable.Query{Owners: tcptable.OwnerPIDs})
	require.NoError(t, err)
	row := func(local, remote string) *tcptable.Connection {
		t.Helper()
		c := findRow(rows, local, remote)
		require.NotNil(t, c, "no row %s -> %s", local, remote)
		return c
	}

	t.Run("owner PIDs", func(t *testing.T) {
		assert.Equal(t, me, row(pair4.Client().String(), pair4.Server().String()).PID,
			"Wine attributes the IPv4 dialer to its process (if not, the suite needs NoDialerPID)")
		for _, c := range []*tcptable.Connection{
			row(ln4.Addr().String(), "0.0.0.0:0"),
			row(pair4.Server().String(), pair4.Client().String()),
			row(ln6.Addr().String(), "[::]:0"),
			row(pair6.Client().String(), pair6.Server().String()),
			row(pair6.Server().String(), pair6.Client().String()),
		} {
			assert.Zero(t, c.PID, "Wine now attributes %v -> %v: remove the matching gap in wineGaps", c.Local, c.Remote)
			assert.Equal(t, tcptable.OwnerNotSupported, c.OwnerStatus, "PID 0 under Wine means unknown, not the Idle process")
		}
	})

	t.Run("no timestamps, no module info", func(t *testing.T) {
		for _, c := range rows {
			assert.True(t, c.Created.IsZero(), "Wine now fills liCreateTimestamp: %v", c.Created)
			assert.Nil(t, c.OwningModuleInfo, "Wine now fills OwningModuleInfo")
		}
	})

	t.Run("no GetOwnerModuleFrom*Entry", func(t *testing.T) {
		assert.Nil(t, p.procs.ownerModule4, "Wine now exports GetOwnerModuleFromTcpEntry")
		assert.Nil(t, p.procs.ownerModule6, "Wine now exports GetOwnerModuleFromTcp6Entry")
		c := row(pair4.Client().String(), pair4.Server().String())
		p2 := newProvider(t)
		got, err := p2.Table(context.Background(), tcptable.Query{LocalPort: c.Local.Port()})
		require.NoError(t, err)
		require.Len(t, got, 1)
		assert.Equal(t, tcptable.SourceProcessImage, got[0].ModuleSource, "the module comes from the process image")
	})

	t.Run("CONNECTIONS class has only ESTABLISHED rows", func(t *testing.T) {
		all, err := ParseTable(rawTable(t, p, tcptable.IPv4, tcpTableOwnerModuleAll, false), tcptable.IPv4)
		require.NoError(t, err)
		conns, err := ParseTable(rawTable(t, p, tcptable.IPv4, 7 /* TCP_TABLE_OWNER_MODULE_CONNECTIONS */, false), tcptable.IPv4)
		require.NoError(t, err)
		fin := half.Client().String() + " " + half.Server().String()
		require.NotNil(t, findRow(all, half.Client().String(), half.Server().String()), "ALL has the FIN-WAIT-2 row %s", fin)
		assert.Nil(t, findRow(conns, half.Client().String(), half.Server().String()),
			"Wine's CONNECTIONS class now has the FIN-WAIT-2 row %s: pushing it down could be allowed", fin)
		assert.NotNil(t, findRow(conns, pair4.Client().String(), pair4.Server().String()), "CONNECTIONS has ESTABLISHED rows")
		for _, c := range conns {
			assert.Equal(t, tcptable.StateEstablished, c.State)
		}
		// The provider itself filters ClassConnections from the ALL table.
		got, err := p.Table(context.Background(), tcptable.Query{Class: tcptable.ClassConnections, Family: tcptable.IPv4})
		require.NoError(t, err)
		assert.NotNil(t, findRow(got, half.Client().String(), half.Server().String()), "provider keeps FIN-WAIT-2 in ClassConnections")
	})

	t.Run("no extended TCP statistics", func(t *testing.T) {
		assert.Nil(t, p.procs.getEStats4, "Wine now exports GetPerTcpConnectionEStats: check what it returns and retire this deviation")
		assert.Nil(t, p.procs.getEStats6, "Wine now exports GetPerTcp6ConnectionEStats")
		c := row(pair4.Client().String(), pair4.Server().String())
		j, err := p.e.find(c.Key())
		require.NoError(t, err)
		require.GreaterOrEqual(t, j, 0)
		var mib mibBuf
		row := mibRow(&mib, p.e.rawRow(0, row4Size, j), false)
		require.NotNil(t, p.procs.setEStats4, "Wine 8.0 exports SetPerTcpConnectionEStats")
		err = p.procs.enableEStats(row, false, estatsData)
		t.Logf("Wine's SetPerTcpConnectionEStats: %v", err)
		assert.ErrorIs(t, err, tcptable.ErrNotSupported, "Wine's SetPerTcpConnectionEStats is a stub that says so")

		got, err := p.Table(context.Background(), tcptable.Query{Stats: true, LocalPort: pair4.Client().Port()})
		require.NoError(t, err)
		require.Len(t, got, 1)
		assert.Equal(t, tcptable.StatsNotSupported, got[0].StatsStatus)
		assert.Nil(t, got[0].Stats)
	})

	t.Run("SetTcpEntry is a stub", func(t *testing.T) {
		client, server, c := dialedRow(t, p)
		j, err := p.e.find(c.Key())
		require.NoError(t, err)
		var mib mibBuf
		row := mibRow(&mib, p.e.rawRow(0, row4Size, j), false)
		binary.LittleEndian.PutUint32(row, mibTCPStateDeleteTCB)
		assert.NoError(t, p.procs.setTCPEntry(row), "Wine's SetTcpEntry reports success")

		err = p.Kill(context.Background(), c)
		require.Error(t, err, "Kill must not trust the stub")
		assert.ErrorContains(t, err, "reported success but the row is still in the table")
		assert.ErrorIs(t, err, tcptable.ErrNotSupported)

		// The connection is untouched.
		_, err = client.Write([]byte("x"))
		require.NoError(t, err)
		var b [1]byte
		require.NoError(t, server.SetReadDeadline(time.Now().Add(10*time.Second)))
		_, err = server.Read(b[:])
		require.NoError(t, err, "the connection still carries data")
	})

	t.Run("IPv6 scope ids are not interface indexes", func(t *testing.T) {
		b := rawTable(t, p, tcptable.IPv6, tcpTableOwnerModuleListener, false)
		n := int(binary.LittleEndian.Uint32(b))
		found := false
		for i := range n {
			raw := b[tableHeaderSize+i*row6Size:][:row6Size]
			if binary.BigEndian.Uint16(raw[row6LocalPort:]) != ln6.Addr().Port() {
				continue
			}
			found = true
			assert.NotZero(t, binary.LittleEndian.Uint32(raw[row6LocalScope:]),
				"Wine now stores scope id 0 for ::1 as Windows does")
		}
		require.True(t, found, "listener %v not in the raw IPv6 table", ln6.Addr())
		assert.Empty(t, row(ln6.Addr().String(), "[::]:0").Local.Addr().Zone(), "no zone on ::1")
	})
}

// TestWineOrder proves that Wine's bOrder sorting is wrong, the reason the
// provider never asks for sorted tables: Wine orders 127.0.0.2:P before
// 127.0.0.1:P+1 (it sorts by port across addresses that share their first
// octets), where the address must come first.
func TestWineOrder(t *testing.T) {
	if !isWine() {
		t.Skip("not running under Wine")
	}
	low, err := net.Listen("tcp4", "127.0.0.2:0")
	require.NoError(t, err)
	defer low.Close()
	port := low.Addr().(*net.TCPAddr).Port
	var high net.Listener
	for p := port + 1; p < port+64 && p < 65536 && high == nil; p++ {
		high, _ = net.Listen("tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
	}
	require.NotNil(t, high, "no free port above %d on 127.0.0.1", port)
	defer high.Close()

	p := newProvider(t)
	rows, err := ParseTable(rawTable(t, p, tcptable.IPv4, tcpTableOwnerModuleListener, true), tcptable.IPv4)
	require.NoError(t, err)
	index := func(ln net.Listener) int {
		for i, c := range rows {
			if c.Local.String() == ln.Addr().String() {
				return i
			}
		}
		t.Fatalf("listener %v not in the sorted table", ln.Addr())
		return -1
	}
	assert.Less(t, index(low), index(high),
		"Wine now sorts %v after %v: its bOrder may be right (the provider still does not use it)", low.Addr(), high.Addr())

	got, err := p.Table(context.Background(), tcptable.Query{Class: tcptable.ClassListeners})
	require.NoError(t, err)
	assert.NotNil(t, findRow(got, low.Addr().String(), "0.0.0.0:0"))
	assert.NotNil(t, findRow(got, high.Addr().String(), "0.0.0.0:0"))
}
