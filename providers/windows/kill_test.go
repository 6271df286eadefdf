package windows

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcptable/tcptable"
)

// fakeKiller is a killOS over a fakeTables: SetTcpEntry removes the row
// (Windows, elevated), changes nothing and reports success (Wine), or
// fails.
type fakeKiller struct {
	tables *fakeTables
	stub   bool  // report success, change nothing
	err    error // fail with this
	mibs   []string
}

func (f *fakeKiller) setTCPEntry(mib []byte) error {
	f.mibs = append(f.mibs, fmt.Sprintf("%s state %d", mibName(mib, false), binary.LittleEndian.Uint32(mib)))
	if f.err != nil {
		return f.err
	}
	if !f.stub {
		f.tables.v4 = slices.DeleteFunc(f.tables.v4, func(r testRow) bool {
			return fmt.Sprintf("%s state %d", mibName(encodeTable(false, 0, r)[8:], false), 12) == f.mibs[len(f.mibs)-1]
		})
	}
	return nil
}

func TestKill(t *testing.T) {
	setup := func(wine bool) (*engine, *fakeTables, []tcptable.Connection) {
		rows := append(pair4(50000, 80, 7), testRow{state: 2, local: lo4, localPort: portDWORD(80, 0), pid: 7},
			testRow{state: 5, local: lo4, localPort: portDWORD(50002, 0), remote: lo4, remotePort: portDWORD(80, 0), pid: 7})
		tables := &fakeTables{v4: rows, v6: []testRow{{state: 5, local: lo6, localPort: portDWORD(1, 0), remote: lo6,
			remotePort: portDWORD(2, 0), pid: 7}}}
		e := testEngine(t, tables, nil, wine)
		got, err := e.table(context.Background(), tcptable.Query{Owners: tcptable.OwnerPIDs})
		require.NoError(t, err)
		return e, tables, got
	}
	ctx := context.Background()

	t.Run("ended and verified", func(t *testing.T) {
		e, tables, rows := setup(false)
		k := &fakeKiller{tables: tables}
		require.NoError(t, e.kill(ctx, k, byLocal(t, rows, 50000, 80)))
		assert.Equal(t, []string{"127.0.0.1:50000 127.0.0.1:80 state 12"}, k.mibs, "MIB_TCPROW with MIB_TCP_STATE_DELETE_TCB")
		got, err := e.table(ctx, tcptable.Query{Port: 50000})
		require.NoError(t, err)
		assert.Len(t, got, 1, "only the peer's row is left")
	})
	t.Run("stub: success but the row stays", func(t *testing.T) {
		for _, wine := range []bool{false, true} {
			e, tables, rows := setup(wine)
			err := e.kill(ctx, &fakeKiller{tables: tables, stub: true}, byLocal(t, rows, 50000, 80))
			require.ErrorContains(t, err, "reported success but the row is still in the table (ESTABLISHED)")
			assert.Equal(t, wine, errors.Is(err, tcptable.ErrNotSupported), "under Wine the stub is a known gap")
			if wine {
				assert.ErrorContains(t, err, "Wine's SetTcpEntry is a stub")
			}
		}
	})
	t.Run("access denied", func(t *testing.T) {
		e, tables, rows := setup(false)
		err := e.kill(ctx, &fakeKiller{tables: tables, err: fmt.Errorf("%w (Access is denied.)", tcptable.ErrPermission)},
			byLocal(t, rows, 50000, 80))
		require.ErrorIs(t, err, tcptable.ErrPermission)
		assert.ErrorContains(t, err, "needs Administrator")
	})
	t.Run("vanished before SetTcpEntry", func(t *testing.T) {
		e, tables, rows := setup(false)
		err := e.kill(ctx, &fakeKiller{tables: tables, err: fmt.Errorf("%w (Element not found.)", tcptable.ErrNotFound)},
			byLocal(t, rows, 50000, 80))
		require.ErrorIs(t, err, tcptable.ErrNotFound)
	})
	t.Run("not in the table, listener, IPv6", func(t *testing.T) {
		e, tables, rows := setup(false)
		k := &fakeKiller{tables: tables}
		gone := byLocal(t, rows, 50000, 80)
		gone.Local = netip.AddrPortFrom(lo4, 50099)
		require.ErrorIs(t, e.kill(ctx, k, gone), tcptable.ErrNotFound)
		err := e.kill(ctx, k, byLocal(t, rows, 80, 0))
		require.ErrorIs(t, err, tcptable.ErrNotSupported)
		assert.ErrorContains(t, err, "not LISTEN sockets")
		err = e.kill(ctx, k, byLocal(t, rows, 1, 2))
		require.ErrorIs(t, err, tcptable.ErrNotSupported)
		assert.ErrorContains(t, err, "no IPv6 counterpart")
		assert.Empty(t, k.mibs, "nothing was asked of the OS")
	})
	t.Run("cancelled while verifying", func(t *testing.T) {
		e, tables, rows := setup(false)
		ctx, cancel := context.WithCancel(context.Background())
		tables.onRead = func() {
			if tables.calls > 3 { // after the lookup, during the verification
				cancel()
			}
		}
		err := e.kill(ctx, &fakeKiller{tables: tables, stub: true}, byLocal(t, rows, 50000, 80))
		require.ErrorIs(t, err, context.Canceled)
	})
}
