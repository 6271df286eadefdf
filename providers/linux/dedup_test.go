package linux

import (
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

	// After a truncation (restarted dump) the stale indices are ignored.
	rows = rows[:0]
	add(tcptable.Connection{State: tcptable.StateTimeWait, Local: lp, Remote: rp})
	add(tcptable.Connection{State: tcptable.StateEstablished, Local: lp, Remote: rp, Socket: 8})
	add(tcptable.Connection{State: tcptable.StateEstablished, Local: lp, Remote: rp, Socket: 7})
	assert.Len(t, rows, 3)

	d.reset(0)
	rows = nil
	add(tcptable.Connection{Socket: 7})
	assert.Len(t, rows, 1)
}
