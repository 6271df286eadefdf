package windows

import (
	"errors"
	"time"

	"github.com/tcptable/tcptable"
)

// estatsOS reads and switches on a connection's extended statistics:
// GetPerTcp(6)ConnectionEStats and SetPerTcp(6)ConnectionEStats on Windows,
// fakes in tests. Errors wrap tcptable.ErrPermission for
// ERROR_ACCESS_DENIED and tcptable.ErrNotFound for ERROR_NOT_FOUND.
type estatsOS interface {
	// estatsSupported reports whether the Get function of the family
	// exists (Windows Vista and later; not Wine).
	estatsSupported(ipv6 bool) bool
	// getEStats reads statistics of type t of the connection mib (a
	// MIB_TCPROW, or a MIB_TCP6ROW if ipv6) into rod; enabled is the
	// collection switch (the EnableCollection member of the Rw structure).
	// rod holds the counters only when enabled is true.
	getEStats(mib []byte, ipv6 bool, t estatsType, rod []byte) (enabled bool, err error)
	// enableEStats switches collection of type t on for mib
	// (Administrator only).
	enableEStats(mib []byte, ipv6 bool, t estatsType) error
}

// statsKey identifies a connection across Table calls: its Key and its
// creation time, so that a new connection on the same four-tuple is
// another one.
type statsKey struct {
	key     tcptable.Key
	created int64
}

// statsSince is when counting began for one connection, as far as the
// provider knows, and the last Table call that saw the connection.
type statsSince struct {
	at  time.Time
	gen uint64
}

// statsTracker fills Connection.Stats. Windows counts a connection's
// extended statistics only once collection is switched on for it, which
// needs Administrator, and only from then on: the tracker switches it on
// the first time it sees a connection and remembers when, for Stats.Since.
// It is used under Provider.mu.
type statsTracker struct {
	os     estatsOS
	now    func() time.Time
	since  map[statsKey]*statsSince
	gen    uint64 // the current Table call
	denied bool   // switching on was refused in this call: do not ask again
	mib    mibBuf
	data   [dataRODSize / 8]uint64 // TCP_ESTATS_DATA_ROD_v0, aligned for its ULONG64s
	path   [pathRODSize / 8]uint64 // TCP_ESTATS_PATH_ROD_v0
}

func newStatsTracker(os estatsOS) *statsTracker {
	return &statsTracker{os: os, now: time.Now, since: map[statsKey]*statsSince{}}
}

// begin starts a Table call.
func (s *statsTracker) begin() { s.gen++; s.denied = false }

// tracking reports whether the tracker remembers any connection, so that
// Table must tell it which connections still exist (see seen).
func (s *statsTracker) tracking() bool { return len(s.since) > 0 }

// seen tells the tracker that c is still in the table.
func (s *statsTracker) seen(c *tcptable.Connection) {
	if e, ok := s.since[statsKey{c.Key(), timeKey(c.Created)}]; ok {
		e.gen = s.gen
	}
}

// sweep forgets the connections of family fam that the current Table call
// did not see: they ended. Table calls it only for families it read whole.
func (s *statsTracker) sweep(fam tcptable.Family) {
	for k, e := range s.since {
		if e.gen != s.gen && k.key.Local.Addr().Is4() == (fam == tcptable.IPv4) {
			delete(s.since, k)
		}
	}
}

// fill sets c.Stats and c.StatsStatus; raw is c's MIB_TCP(6)ROW_OWNER_MODULE.
func (s *statsTracker) fill(c *tcptable.Connection, raw []byte, ipv6 bool) {
	c.Stats = nil
	if !s.os.estatsSupported(ipv6) {
		c.StatsStatus = tcptable.StatsNotSupported
		return
	}
	switch c.State {
	case tcptable.StateListen, tcptable.StateTimeWait, tcptable.StateClosed, tcptable.StateDeleteTCB:
		// No TCB that counts: listeners, TIME-WAIT (Windows keeps only
		// a small TIME-WAIT record) and closed rows.
		c.StatsStatus = tcptable.StatsNotAvailable
		return
	}
	mib := mibRow(&s.mib, raw, ipv6)
	k := statsKey{c.Key(), timeKey(c.Created)}
	var since time.Time
	for _, t := range [...]struct {
		typ estatsType
		rod []byte
	}{{estatsData, asBytes(s.data[:])}, {estatsPath, asBytes(s.path[:])}} {
		enabled, err := s.os.getEStats(mib, ipv6, t.typ, t.rod)
		if err == nil && !enabled {
			if s.denied {
				c.StatsStatus = tcptable.StatsPermissionDenied
				return
			}
			since = s.now()
			if err = s.os.enableEStats(mib, ipv6, t.typ); err == nil {
				enabled, err = s.os.getEStats(mib, ipv6, t.typ, t.rod)
			}
			if err == nil && !enabled { // switched on, yet off: the OS does not collect
				err = tcptable.ErrNotSupported
			}
		}
		if err != nil {
			c.StatsStatus = s.status(err)
			return
		}
	}
	st, err := decodeEStats(asBytes(s.data[:]), asBytes(s.path[:]))
	if err != nil {
		c.StatsStatus = tcptable.StatsNotAvailable
		return
	}
	e := s.since[k]
	switch {
	case e == nil:
		// Switched on now, or by another program before (counting began
		// no later than now).
		if since.IsZero() {
			since = s.now()
		}
		e = &statsSince{at: since}
		s.since[k] = e
	case !since.IsZero(): // switched off by someone and on again: counting restarted
		e.at = since
	}
	e.gen = s.gen
	st.Since = e.at
	c.Stats, c.StatsStatus = &st, tcptable.StatsPartial
}

// status maps an EStats error to a StatsStatus.
func (s *statsTracker) status(err error) tcptable.StatsStatus {
	switch {
	case errors.Is(err, tcptable.ErrPermission):
		s.denied = true
		return tcptable.StatsPermissionDenied
	case errors.Is(err, tcptable.ErrNotSupported):
		return tcptable.StatsNotSupported
	}
	// ERROR_NOT_FOUND (the connection ended meanwhile) and anything else:
	// the OS has no counters to give for this row.
	return tcptable.StatsNotAvailable
}
