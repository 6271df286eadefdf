package conformance

import (
	"fmt"
	"strings"

	"github.com/tcptable/tcptable"
)

// The bytes the Stats check moves: different each way, so that a provider
// that swaps sent and received fails, and several segments even at the
// largest MSS.
const (
	statsUp   = 300_000 // client to server
	statsDown = 70_000  // server to client
)

// maxSegment bounds the payload of one TCP segment (the MSS option is 16
// bits), so that n bytes took at least segmentsFor(n) segments.
const maxSegment = 65535

// segmentsFor is the fewest segments that can carry n bytes.
func segmentsFor(n uint64) uint64 { return (n + maxSegment - 1) / maxSegment }

// checkStats: both ends of a pair that moved known numbers of bytes report
// at least those bytes, and enough segments to carry them, in the right
// direction, twice in a row; no counter of theirs ever decreases between
// polls. (That rows carry no Stats unless asked, and a reason when they
// have none, the table-wide rules check on every answer.) With NoStats the
// ends must have no Stats; a Pair that is not a TransferPair skips.
func checkStats(s *session, network string) {
	pair, client, server, _ := s.dial(network)
	q := tcptable.Query{Stats: true}
	if s.cfg.has(NoStats) {
		rows := s.table(q)
		for _, tp := range []tuple{client, server} {
			for _, c := range lookup(rows, tp) {
				if c.Stats != nil {
					s.t.Errorf("row %s has Stats although the provider declared %v", describe(c), NoStats)
				}
			}
		}
		s.t.Logf("pair %v <-> %v: no statistics (gap %v)", client.local, server.local, NoStats)
		return
	}
	mover, ok := pair.(TransferPair)
	if !ok {
		s.t.Skipf("Pair %T does not implement conformance.TransferPair: the Env cannot move bytes", pair)
	}
	mon := counterMonitor{last: map[tuple]tcptable.Stats{}}
	base := s.trafficBase(q, &mon, client, server)
	for i, move := range []traffic{{statsUp, statsDown}, {statsDown, statsUp}} {
		if err := mover.Transfer(int(move.sent), int(move.received)); err != nil {
			s.t.Fatalf("Pair.Transfer(%d, %d): %v", move.sent, move.received, err)
		}
		want := map[tuple]traffic{client: move, server: {move.received, move.sent}}
		what := fmt.Sprintf("transfer %d: %d bytes %v -> %v and %d back counted by both ends", i+1, move.sent, client.local, server.local, move.received)
		rows := s.eventuallyWith(q, what, func(rows []tcptable.Connection) error {
			s.report(mon.observe(rows))
			return grew(rows, base, want)
		})
		base = statsOf(rows, client, server)
	}
}

// traffic is how many payload bytes one end sent and received.
type traffic struct{ sent, received uint64 }

// trafficBase polls until both ends of the pair have Stats (a provider
// may start counting at the first request), and returns them.
func (s *session) trafficBase(q tcptable.Query, mon *counterMonitor, ends ...tuple) map[tuple]tcptable.Stats {
	s.t.Helper()
	rows := s.eventuallyWith(q, "both ends of the pair with Stats", func(rows []tcptable.Connection) error {
		s.report(mon.observe(rows))
		var missing []string
		final := false // a status that will not change by waiting
		for _, tp := range ends {
			c, err := expect(rows, tp, tcptable.StateEstablished)
			if err != nil {
				return err
			}
			if c.Stats == nil {
				missing = append(missing, describe(c))
				final = final || c.StatsStatus == tcptable.StatsNotSupported || c.StatsStatus == tcptable.StatsPermissionDenied
			}
		}
		if missing == nil {
			return nil
		}
		err := fmt.Errorf("Query.Stats asked for statistics and the pair's rows have no Stats: %s (declare %v if the platform has none)", strings.Join(missing, ", "), NoStats)
		if final {
			s.t.Fatalf("%v", err)
		}
		return err
	})
	return statsOf(rows, ends...)
}

// statsOf returns the Stats of the rows with these four-tuples.
func statsOf(rows []tcptable.Connection, ends ...tuple) map[tuple]tcptable.Stats {
	out := map[tuple]tcptable.Stats{}
	for _, tp := range ends {
		if found := lookup(rows, tp); len(found) == 1 && found[0].Stats != nil {
			out[tp] = *found[0].Stats
		}
	}
	return out
}

// grew says how each end's counters fall short of what it moved since
// base, nil when none does.
func grew(rows []tcptable.Connection, base map[tuple]tcptable.Stats, want map[tuple]traffic) error {
	var short []string
	for tp, w := range want {
		found := lookup(rows, tp)
		if len(found) != 1 || found[0].Stats == nil {
			short = append(short, fmt.Sprintf("no single row %v -> %v with Stats", tp.local, tp.remote))
			continue
		}
		now, was := *found[0].Stats, base[tp]
		for _, f := range []struct {
			name     string
			now, was uint64
			least    uint64
			why      string
		}{
			{"BytesSent", now.BytesSent, was.BytesSent, w.sent, fmt.Sprintf("bytes after sending %d", w.sent)},
			{"BytesReceived", now.BytesReceived, was.BytesReceived, w.received, fmt.Sprintf("bytes after receiving %d", w.received)},
			{"SegmentsSent", now.SegmentsSent, was.SegmentsSent, segmentsFor(w.sent), fmt.Sprintf("segments after sending %d bytes", w.sent)},
			{"SegmentsReceived", now.SegmentsReceived, was.SegmentsReceived, segmentsFor(w.received), fmt.Sprintf("segments after receiving %d bytes", w.received)},
		} {
			if f.now < f.was+f.least {
				short = append(short, fmt.Sprintf("row %v -> %v: %s grew by %d (from %d to %d), want at least %d %s",
					tp.local, tp.remote, f.name, int64(f.now-f.was), f.was, f.now, f.least, f.why))
			}
		}
	}
	if short == nil {
		return nil
	}
	return fmt.Errorf("%s", strings.Join(short, "; "))
}

// counterMonitor remembers the last Stats of each four-tuple it saw, to
// catch a counter that decreases between two polls.
type counterMonitor struct {
	last map[tuple]tcptable.Stats
}

// observe compares the counters of rows with those of the previous poll
// and returns a problem for each that decreased. A row whose Stats.Since
// moved (a provider that restarted counting, with StatsPartial) starts
// afresh.
func (m *counterMonitor) observe(rows []tcptable.Connection) []string {
	var out []string
	for i := range rows {
		c := &rows[i]
		if c.Stats == nil {
			continue
		}
		tp := tupleOf(c)
		prev, seen := m.last[tp]
		m.last[tp] = *c.Stats
		if !seen || !prev.Since.Equal(c.Stats.Since) {
			continue
		}
		now := *c.Stats
		for _, f := range []struct {
			name      string
			prev, now uint64
		}{
			{"BytesSent", prev.BytesSent, now.BytesSent},
			{"BytesReceived", prev.BytesReceived, now.BytesReceived},
			{"SegmentsSent", prev.SegmentsSent, now.SegmentsSent},
			{"SegmentsReceived", prev.SegmentsReceived, now.SegmentsReceived},
			{"Retransmits", prev.Retransmits, now.Retransmits},
			{"BytesAcked", prev.BytesAcked, now.BytesAcked},
			{"BytesRetransmitted", prev.BytesRetransmitted, now.BytesRetransmitted},
		} {
			if f.now < f.prev {
				out = append(out, fmt.Sprintf("counter %s of row %v -> %v decreased between two polls, from %d to %d: counters never decrease during a connection's life",
					f.name, c.Local, c.Remote, f.prev, f.now))
			}
		}
	}
	return out
}
