package metrics

import "github.com/tcptable/tcptable"

// byteMeter turns per-connection byte counters, which every read reports
// for the connections alive at that moment, into per-process increments
// that never decrease although connections come and go.
//
// It remembers, by Key, each connection's counters at the last read that
// showed it. A later read adds the difference to the connection's process;
// a connection first seen after the first read adds its whole counters
// (it was born after the read before, or its counters started then); a
// counter lower than remembered, or another socket identity on the same
// Key, is a new connection on a reused address and adds its whole
// counters. A connection missing from a read is kept one more read (a
// trace may still report its close with its final counters, see closed)
// and then forgotten: what it moved between the last read that showed it
// and its close is not counted unless the trace reports it.
//
// The first read only records where every counter stands: the totals count
// from the collector's first read, not from the connections' births.
type byteMeter struct {
	conns  map[tcptable.Key]*connBytes
	gen    uint64 // the number of reads observed
	primed bool   // a read has been observed
	seen   bool   // some row ever carried Stats
}

// connBytes is one connection's counters at the last read that showed it.
type connBytes struct {
	sent, received uint64
	socket         uint64
	gen            uint64 // the read that last showed it
	owner          owner  // the process it was counted for
}

// byteDelta is what one process moved since the last read.
type byteDelta struct {
	sent, received uint64
}

func newByteMeter() *byteMeter {
	return &byteMeter{conns: map[tcptable.Key]*connBytes{}}
}

// observe takes one complete read and adds each process' increments to d.
func (m *byteMeter) observe(rows []tcptable.Connection, d map[owner]*byteDelta) {
	m.gen++
	for i := range rows {
		c := &rows[i]
		if c.Stats == nil {
			if cb := m.conns[c.Key()]; cb != nil {
				cb.gen = m.gen // still alive (TIME-WAIT keeps its Key): keep its counters
			}
			continue
		}
		m.seen = true
		o := ownerOf(c)
		sent, recv := m.update(c.Key(), c.Socket, c.Stats, o)
		if m.primed && sent|recv != 0 {
			addDelta(d, o, sent, recv)
		}
	}
	for k, cb := range m.conns {
		if cb.gen+1 < m.gen {
			delete(m.conns, k)
		}
	}
	m.primed = true
}

// closed takes a traced close: the row's final counters, if it carries
// them, add what moved since the last read, and the connection is
// forgotten. The increment goes to the row's process or, when the row
// names none (a close the kernel reports), to the process the last read
// showed. Before the first read nothing is counted.
func (m *byteMeter) closed(c *tcptable.Connection, d map[owner]*byteDelta) {
	if c.Stats == nil {
		return
	}
	m.seen = true
	k := c.Key()
	o := ownerOf(c)
	if cb := m.conns[k]; cb != nil && o.reserved != "" && cb.owner.reserved == "" {
		o = cb.owner
	}
	sent, recv := m.update(k, c.Socket, c.Stats, o)
	delete(m.conns, k)
	if m.primed && sent|recv != 0 {
		addDelta(d, o, sent, recv)
	}
}

// update stores st as the counters of the connection k and returns how much
// they grew since they were last stored: all of st for a connection not
// seen before or whose counters restarted.
func (m *byteMeter) update(k tcptable.Key, socket uint64, st *tcptable.Stats, o owner) (sent, recv uint64) {
	cb := m.conns[k]
	if cb == nil {
		cb = &connBytes{}
		m.conns[k] = cb
	} else if (cb.socket != 0 && socket != 0 && cb.socket != socket) || st.BytesSent < cb.sent || st.BytesReceived < cb.received {
		*cb = connBytes{}
	}
	sent, recv = st.BytesSent-cb.sent, st.BytesReceived-cb.received
	cb.sent, cb.received, cb.socket, cb.gen, cb.owner = st.BytesSent, st.BytesReceived, socket, m.gen, o
	return sent, recv
}

func addDelta(d map[owner]*byteDelta, o owner, sent, recv uint64) {
	bd := d[o]
	if bd == nil {
		bd = &byteDelta{}
		d[o] = bd
	}
	bd.sent += sent
	bd.received += recv
}
