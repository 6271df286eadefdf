package mock

import (
	"fmt"

	"github.com/tcptable/tcptable"
)

// simulatedMSS is the MSS of simulated rows: Linux's over loopback (MTU
// 65536 less 52 bytes of IPv4 and TCP headers with timestamps).
const simulatedMSS = 65483

// SetStats sets the traffic counters of the row with Key k (a copy of s;
// StatsStatus becomes StatsOK unless it is StatsPartial) and reports
// whether there is such a row. Table returns them when Query.Stats asks.
func (p *Provider) SetStats(k tcptable.Key, s tcptable.Stats) bool {
	return p.Update(k, func(c *tcptable.Connection) {
		st := s
		c.Stats = &st
		if c.StatsStatus != tcptable.StatsPartial {
			c.StatsStatus = tcptable.StatsOK
		}
	})
}

// AddTraffic advances the counters of the row with Key k as if it had sent
// sent and received received payload bytes, and reports whether there is
// such a row. A row without Stats gets them, starting from zero. Segments
// are counted as TCP would on the simulated path: the payload in segments
// of the row's MSS (SegmentsSent, and the peer's acknowledgements in
// SegmentsReceived), so that every byte and segment counter grows by at
// least what the traffic needs; BytesAcked follows BytesSent.
func (p *Provider) AddTraffic(k tcptable.Key, sent, received uint64) bool {
	return p.Update(k, func(c *tcptable.Connection) {
		if c.Stats == nil {
			c.Stats = &tcptable.Stats{MSS: simulatedMSS}
			c.StatsStatus = tcptable.StatsOK
		}
		addTraffic(c.Stats, sent, received)
	})
}

// addTraffic advances st as AddTraffic says.
func addTraffic(st *tcptable.Stats, sent, received uint64) {
	mss := uint64(st.MSS)
	if mss == 0 {
		mss = simulatedMSS
	}
	segs := func(n uint64) uint64 { return (n + mss - 1) / mss }
	acks := func(n uint64) uint64 { return min(n, 1) } // one acknowledgement for a burst
	st.BytesSent += sent
	st.BytesAcked += sent
	st.BytesReceived += received
	st.SegmentsSent += segs(sent) + acks(received)
	st.SegmentsReceived += segs(received) + acks(sent)
}

// Transfer moves clientToServer bytes from the client to the server and
// serverToClient bytes back, as far as the rows can tell: both rows'
// counters advance (see AddTraffic). It implements conformance.TransferPair.
func (c *pair) Transfer(clientToServer, serverToClient int) error {
	if clientToServer < 0 || serverToClient < 0 {
		return fmt.Errorf("mock: Transfer(%d, %d): byte counts must not be negative: %w", clientToServer, serverToClient, tcptable.ErrInvalid)
	}
	up, down := uint64(clientToServer), uint64(serverToClient)
	c.p.mu.Lock()
	defer c.p.mu.Unlock()
	ci, si := c.p.indexLocked(c.client), c.p.indexLocked(c.server)
	if ci < 0 || si < 0 || c.p.rows[ci].Stats == nil || c.p.rows[si].Stats == nil {
		return fmt.Errorf("mock: pair %v <-> %v is closed", c.client.Local, c.server.Local)
	}
	addTraffic(c.p.rows[ci].Stats, up, down)
	addTraffic(c.p.rows[si].Stats, down, up)
	return nil
}

// answerStats sets the statistics of c, a row of an answer to a query
// with Query.Stats want: none with StatsNotRequested when not wanted; as
// stored otherwise, where a row without Stats and without a reason gets
// StatsNotAvailable.
func answerStats(c *tcptable.Connection, want bool) {
	switch {
	case !want:
		c.Stats, c.StatsStatus = nil, tcptable.StatsNotRequested
	case c.Stats == nil && c.StatsStatus == tcptable.StatsUnknown:
		c.StatsStatus = tcptable.StatsNotAvailable
	}
}
