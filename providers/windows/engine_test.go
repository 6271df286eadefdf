package windows

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcptable/tcptable"
)

// fakeTables is a tableOS serving the rows it holds, encoded as
// GetExtendedTcpTable would (encodeTable), with its size negotiation.
type fakeTables struct {
	v4, v6 []testRow
	err6   error  // the IPv6 table fails with this
	onRead func() // called on every call
	calls  int
}

func (f *fakeTables) tcpTable(b []byte, size *uint32, af, class uint32, _ bool) error {
	f.calls++
	if f.onRead != nil {
		f.onRead()
	}
	rows := f.v4
	if af == afInet6 {
		if f.err6 != nil {
			return f.err6
		}
		rows = f.v6
	}
	if class == tcpTableOwnerModuleListener {
		rows = slices.DeleteFunc(slices.Clone(rows), func(r testRow) bool { return r.state != 2 })
	}
	t := encodeTable(af == afInet6, 0, rows...)
	if len(t) > len(b) {
		*size = uint32(len(t))
		return fmt.Errorf("%w (ERROR_INSUFFICIENT_BUFFER)", errBufferTooSmall)
	}
	copy(b, t)
	return nil
}

// pair4 returns the two rows of an established IPv4 pair on 127.0.0.1.
func pair4(client, server uint16, pid uint32) []testRow {
	return []testRow{
		{state: 5, local: lo4, localPort: portDWORD(client, 0), remote: lo4, remotePort: portDWORD(server, 0), pid: pid},
		{state: 5, local: lo4, localPort: portDWORD(server, 0), remote: lo4, remotePort: portDWORD(client, 0), pid: pid},
	}
}

func testEngine(t *testing.T, tables *fakeTables, st estatsOS, wine bool) *engine {
	t.Helper()
	if st == nil {
		st = &fakeEStats{}
	}
	cfg := defaultConfig()
	cfg.initialSize = tableHeaderSize // every read negotiates
	return newEngine(cfg, tables, &fakeModules{missing: true}, st, wine)
}

// TestEngineKeepsIPv4OnIPv6Error: an error reading the IPv6 table returns
// the IPv4 rows already read, with the error.
func TestEngineKeepsIPv4OnIPv6Error(t *testing.T) {
	boom := errors.New("boom")
	e := testEngine(t, &fakeTables{v4: pair4(50000, 80, 7), err6: boom}, nil, false)
	rows, err := e.table(context.Background(), tcptable.Query{Owners: tcptable.OwnerPIDs})
	require.ErrorIs(t, err, boom)
	assert.Contains(t, err.Error(), "GetExtendedTcpTable(ipv6)")
	require.Len(t, rows, 2, "the IPv4 rows come back with the error")
	assert.Equal(t, uint16(50000), rows[0].Local.Port())
}

// TestEngineCancelEvery256Rows: cancellation is seen every 256 rows read,
// even when no row passes the filters.
func TestEngineCancelEvery256Rows(t *testing.T) {
	var rows []testRow
	for i := range 300 {
		rows = append(rows, testRow{state: 5, local: lo4, localPort: portDWORD(uint16(1000+i), 0), remote: lo4,
			remotePort: portDWORD(80, 0), pid: 7})
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tables := &fakeTables{v4: rows}
	tables.onRead = func() {
		if tables.calls == 2 { // the negotiated read: the table is in hand, the context ends
			cancel()
		}
	}
	e := testEngine(t, tables, nil, false)
	got, err := e.table(ctx, tcptable.Query{Family: tcptable.IPv4, LocalPort: 9})
	require.ErrorIs(t, err, context.Canceled)
	assert.Empty(t, got)
}

// TestEngineDedupe: duplicate rows are reported once, and the owner-module
// lookup gets the raw row of the report kept (the last).
func TestEngineDedupe(t *testing.T) {
	rows := pair4(50000, 80, 7)
	later := rows[0]
	later.state, later.pid = 6, 8 // the same socket, reported again later
	tables := &fakeTables{v4: []testRow{rows[0], rows[1], later}}
	mods := &rowRecorder{}
	cfg := defaultConfig()
	e := newEngine(cfg, tables, mods, &fakeEStats{}, false)
	got, err := e.table(context.Background(), tcptable.Query{Family: tcptable.IPv4})
	require.NoError(t, err)
	require.Len(t, got, 2)
	assert.Equal(t, tcptable.StateFinWait1, got[0].State)
	assert.Equal(t, uint32(8), got[0].PID)
	require.Len(t, mods.rows, 2)
	assert.Equal(t, unsafe.Pointer(&e.bufs[0][tableHeaderSize+2*row4Size]), mods.rows[0], "the kept row's own bytes")
	assert.Equal(t, unsafe.Pointer(&e.bufs[0][tableHeaderSize+1*row4Size]), mods.rows[1])
}

// rowRecorder is a moduleOS recording the rows it is asked about.
type rowRecorder struct{ rows []unsafe.Pointer }

func (r *rowRecorder) ownerModule(row unsafe.Pointer, _ bool) (tcptable.Module, bool, error) {
	r.rows = append(r.rows, row)
	return tcptable.Module{Name: "a.exe", Path: `C:\a.exe`}, true, nil
}

func (r *rowRecorder) processImage(uint32) moduleResult { return moduleResult{} }

// TestEngineWineZones: under Wine, link-local zones (scope id 8192, not an
// interface index) are dropped; on Windows they are kept.
func TestEngineWineZones(t *testing.T) {
	ll := testRow{state: 5, local: ll6, localScope: 8192, localPort: portDWORD(1, 0), remote: ll6, remoteScope: 8192,
		remotePort: portDWORD(2, 0), pid: 3}
	for _, wine := range []bool{false, true} {
		e := testEngine(t, &fakeTables{v6: []testRow{ll}}, nil, wine)
		got, err := e.table(context.Background(), tcptable.Query{Family: tcptable.IPv6, Owners: tcptable.OwnerNone})
		require.NoError(t, err)
		require.Len(t, got, 1)
		want := "fe80::1:2%8192"
		if wine {
			want = "fe80::1:2"
		}
		assert.Equal(t, want, got[0].Local.Addr().String(), "wine %v", wine)
		assert.Equal(t, want, got[0].Remote.Addr().String(), "wine %v", wine)
	}
}

// TestEngineStatsNotRequested: without Query.Stats no EStats call is made.
func TestEngineStatsNotRequested(t *testing.T) {
	st := &fakeEStats{supported: true}
	e := testEngine(t, &fakeTables{v4: pair4(50000, 80, 7)}, st, false)
	got, err := e.table(context.Background(), tcptable.Query{})
	require.NoError(t, err)
	for _, c := range got {
		assert.Nil(t, c.Stats)
		assert.Equal(t, tcptable.StatsNotRequested, c.StatsStatus)
	}
	assert.Empty(t, st.calls)
}
