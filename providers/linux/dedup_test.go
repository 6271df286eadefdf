package linux

import (
	"hash/maphash"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/tcptable/tcptable"
)

func TestDedup(t *testing.T) {
	lp := netip.MustParseAddrPort("127.0.0.1:4660")
	rp := netip.MustParseAddrPort("127.0.0.1:22136")
	d := newDedup()
	var rows []tcptable.Connection
	add := func(c tcptable.Connection) { rows = d.add(rows, &c) }

	add(tcptable.Connection{State: tcptable.StateEstablished, Local: lp, Remote: rp, Socket: 7})
	add(tcptable.Connection{State: tcptable.StateTimeWait, Local: rp, Remote: lp})
	add(tcptable.Connection{State: tcptable.StateFinWait1, Local: lp, Remote: rp, Socket: 7})
	add(tcptable.Connection{State: tcptable.StateTimeWait, Local: rp, Remote: lp})
	assert.Len(t, rows, 2, "the same socket twice is one row")
	assert.Equal(t, tcptable.StateFinWait1, rows[0].State, "the later report wins")

	// A listener and a connection on the same local port are distinct.
	add(tcptable.Connection{State: tcptable.StateListen, Local: lp, Remote: netip.MustParseAddrPort("0.0.0.0:0"), Socket: 8})
	assert.Len(t, rows, 3)

	// A connection that was accepted while the walk went on: first
	// without an inode (in the accept queue), then with one. One row, as
	// one Key.
	rp2 := netip.MustParseAddrPort("127.0.0.1:22137")
	add(tcptable.Connection{State: tcptable.StateEstablished, Local: lp, Remote: rp2})
	add(tcptable.Connection{State: tcptable.StateEstablished, Local: lp, Remote: rp2, Socket: 9})
	assert.Len(t, rows, 4)
	assert.Equal(t, uint64(9), rows[3].Socket)
	// A request socket replaced by the established one.
	rp3 := netip.MustParseAddrPort("127.0.0.1:22138")
	add(tcptable.Connection{State: tcptable.StateSynReceived, Local: lp, Remote: rp3})
	add(tcptable.Connection{State: tcptable.StateEstablished, Local: lp, Remote: rp3, Socket: 10})
	assert.Len(t, rows, 5)
	keys := map[tcptable.Key]bool{}
	for _, c := range rows {
		assert.False(t, keys[c.Key()], "duplicate key %v", c.Key())
		keys[c.Key()] = true
	}

	// After a truncation (restarted dump) the stale indices are ignored.
	rows = rows[:0]
	add(tcptable.Connection{State: tcptable.StateTimeWait, Local: lp, Remote: rp})
	add(tcptable.Connection{State: tcptable.StateListen, Local: rp, Socket: 8})
	add(tcptable.Connection{State: tcptable.StateEstablished, Local: rp2, Remote: lp, Socket: 7})
	assert.Len(t, rows, 3)
	add(tcptable.Connection{State: tcptable.StateEstablished, Local: rp2, Remote: lp, Socket: 7})
	add(tcptable.Connection{State: tcptable.StateListen, Local: rp, Socket: 8})
	assert.Len(t, rows, 3)

	// Two listeners on one address (SO_REUSEPORT) stay apart.
	add(tcptable.Connection{State: tcptable.StateListen, Local: rp, Socket: 11})
	assert.Len(t, rows, 4)

	// A pair whose hash another pair took is deduplicated all the same.
	d.reset(0)
	rows = nil
	add(tcptable.Connection{State: tcptable.StateEstablished, Local: lp, Remote: rp, Socket: 1})
	d.conn[maphash.Comparable(d.seed, [2]netip.AddrPort{rp, lp})] = 0 // as if lp-rp hashed like rp-lp
	add(tcptable.Connection{State: tcptable.StateEstablished, Local: rp, Remote: lp})
	add(tcptable.Connection{State: tcptable.StateEstablished, Local: rp, Remote: lp, Socket: 2})
	assert.Len(t, rows, 2)
	assert.Equal(t, uint64(2), rows[1].Socket)

	d.reset(0)
	rows = nil
	add(tcptable.Connection{Socket: 7})
	assert.Len(t, rows, 1)
}
