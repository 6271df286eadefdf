package metrics

import "github.com/tcptable/tcptable"

// byteMeter turns per-connection traffic counters (bytes sent and
// received, segments retransmitted), which every read reports for the
// connections alive at that moment, into per-process increments that never
// decrease although connections come and go.
//
// It remembers each connection's counters at the last read that showed it.
// A later read adds the difference to the connection's process; a
// connection first seen after the first read adds its whole counters (it
// was born after the read before, or its counters started then); a counter
// lower than remembered, or another socket identity on the same Key, is a
// new connection on a reused address and adds its whole counters. A
// connection missing from a read is kept one more read (a trace may still
// report its close with its final counters, see closed) and then
// forgotten: what it moved between the last read that showed it and its
// close is not counted unless the trace reports it.
//
// The first read only records where every counter stands: the totals count
// from the collector's first read, not from the connections' births.
//
// At 200,000 connections the map's cache misses are most of a scrape's
// time (BenchmarkCollect); a 64-bit hash of the Key as the map key did not
// measurably help, so the Key itself, exact, is used.
type byteMeter struct {
	conns  map[tcptable.Key]connBytes
	gen    uint64 // the number of reads observed
	primed bool   // a read has been observed
	seen   bool   // some row ever carried Stats
}

// connBytes is one connection's counters at the last read that showed it.
type connBytes struct {
	byteDelta
	socket uint64
	gen    uint64 // the read that last showed it
	owner  owner  // the process it was last counted for
}

// byteDelta is what one process (or connection) moved since the last
// read: bytes sent and received, segments retransmitted.
type byteDelta struct {
	sent, received, retrans uint64
}

// zero reports whether d moved nothing.
func (d byteDelta) zero() bool { return d == byteDelta{} }

// countersOf returns st's counters the meter follows.
func countersOf(st *tcptable.Stats) byteDelta {
	return byteDelta{sent: st.BytesSent, received: st.BytesReceived, retrans: st.Retransmits}
}

func newByteMeter() *byteMeter {
	return &byteMeter{conns: map[tcptable.Key]connBytes{}}
}

// observe takes one complete read and adds each process' increments to d.
func (m *byteMeter) observe(rows []tcptable.Connection, d map[owner]*byteDelta) {
	m.gen++
	for i := range rows {
		c := &rows[i]
		k := c.Key()
		if c.Stats == nil {
			if cb, ok := m.conns[k]; ok {
				cb.gen = m.gen // still alive (TIME-WAIT keeps its Key): keep its counters
				m.conns[k] = cb
			}
			continue
		}
		m.seen = true
		o := ownerOf(c)
		if dd := m.update(k, c.Socket, c.Stats, o); m.primed && !dd.zero() {
			addDelta(d, o, dd)
		}
	}
	for k, cb := range m.conns {
		if cb.gen+1 < m.gen {
			delete(m.conns, k)
		}
	}
	m.primed = true
}

// closed takes a traced close of c: its final counters, if it carries
// them, add what moved since the last read, and the connection is
// forgotten. The increment goes to the process opener names, if any, else
// to the row's process or, when the row names none (a close the kernel
// reports), to the process the last read showed. Before the first read
// nothing is counted.
func (m *byteMeter) closed(c *tcptable.Connection, opener string, d map[string]*byteDelta) {
	if c.Stats == nil {
		return
	}
	m.seen = true
	k := c.Key()
	o := ownerOf(c)
	if cb, ok := m.conns[k]; ok && o.reserved != "" && cb.owner.reserved == "" {
		o = cb.owner
	}
	dd := m.update(k, c.Socket, c.Stats, o)
	delete(m.conns, k)
	if !m.primed || dd.zero() {
		return
	}
	l := opener
	if l == "" {
		l = o.label()
	}
	d[l] = &dd
}

// update stores st as the counters of the connection k, counted for o,
// and returns how much they grew since they were last stored: all of st
// for a connection not seen before or whose counters restarted (any of
// them lower than stored, or another socket).
func (m *byteMeter) update(k tcptable.Key, socket uint64, st *tcptable.Stats, o owner) byteDelta {
	now := countersOf(st)
	cb := m.conns[k]
	if (cb.socket != 0 && socket != 0 && cb.socket != socket) ||
		now.sent < cb.sent || now.received < cb.received || now.retrans < cb.retrans {
		cb = connBytes{}
	}
	m.conns[k] = connBytes{byteDelta: now, socket: socket, gen: m.gen, owner: o}
	return byteDelta{sent: now.sent - cb.sent, received: now.received - cb.received, retrans: now.retrans - cb.retrans}
}

func addDelta(d map[owner]*byteDelta, o owner, dd byteDelta) {
	bd := d[o]
	if bd == nil {
		bd = &byteDelta{}
		d[o] = bd
	}
	bd.sent += dd.sent
	bd.received += dd.received
	bd.retrans += dd.retrans
}
