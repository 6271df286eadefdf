package linux

import "github.com/tcptable/tcptable"

// statsSlab hands out the Stats of one family's rows from one array sized
// for the answer, so that an answer with statistics costs one allocation
// more than one without, not one per row. Rows point into the array; when
// it runs out (the table grew past the estimate), a further array of an
// eighth of the first (at least minStatsChunk) is made, and the earlier
// rows keep pointing into the old one. A nil *statsSlab means statistics
// were not requested.
type statsSlab struct {
	free  []tcptable.Stats
	chunk int
}

// minStatsChunk is the smallest further array a slab makes.
const minStatsChunk = 64

// newStatsSlab returns a slab that starts with free (its whole length).
func newStatsSlab(free []tcptable.Stats) *statsSlab {
	return &statsSlab{free: free, chunk: max(len(free)/8, minStatsChunk)}
}

// next returns a Stats of the slab that no row uses.
func (s *statsSlab) next() *tcptable.Stats {
	if len(s.free) == 0 {
		s.free = make([]tcptable.Stats, s.chunk)
	}
	st := &s.free[0]
	s.free = s.free[1:]
	return st
}

// fill sets c's Stats and StatsStatus from the kernel row r: nil with
// StatsNotRequested on a nil slab, nil with StatsNotAvailable when the
// kernel sent no tcp_info (TIME-WAIT and request sockets have none), and
// the decoded tcp_info with StatsOK otherwise.
func (s *statsSlab) fill(c *tcptable.Connection, r *diagRow) {
	switch {
	case s == nil:
		c.Stats, c.StatsStatus = nil, tcptable.StatsNotRequested
	case r.Info == nil:
		c.Stats, c.StatsStatus = nil, tcptable.StatsNotAvailable
	default:
		st := s.next()
		decodeTCPInfo(r.Info, r.RQueue, r.WQueue, r.State == tcpListen, st)
		c.Stats, c.StatsStatus = st, tcptable.StatsOK
	}
}

// regionSlab returns the slab of the region of n rows at off of stats, or
// nil (not requested) when stats is nil.
func regionSlab(stats []tcptable.Stats, off, n int) *statsSlab {
	if stats == nil {
		return nil
	}
	return newStatsSlab(stats[off : off+n])
}

// procNetStats says, with Query.Stats, why rows read from /proc/net have
// no Stats: it has no traffic counters (docs/linux.md).
func procNetStats(q tcptable.Query, rows []tcptable.Connection) {
	if q.Stats {
		for i := range rows {
			rows[i].StatsStatus = tcptable.StatsNotSupported
		}
	}
}
