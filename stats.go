package tcptable

import "time"

// StatsStatus says whether Connection.Stats is filled and, when it is not or
// holds only part of the connection's life, why.
type StatsStatus uint8

// The statistics statuses.
const (
	// StatsUnknown: the provider did not say (Stats is nil).
	StatsUnknown StatsStatus = iota
	// StatsOK: Stats counts the connection's whole life.
	StatsOK
	// StatsPartial: Stats counts from Stats.Since only (on Windows,
	// collection is enabled per connection and counts from then on).
	StatsPartial
	// StatsNotRequested: Query.Stats was false (Stats is nil).
	StatsNotRequested
	// StatsNotAvailable: the OS keeps no counters for this row, such as
	// a TIME-WAIT or request socket (Stats is nil).
	StatsNotAvailable
	// StatsPermissionDenied: reading or enabling the counters needs a
	// privilege the caller lacks (Stats is nil).
	StatsPermissionDenied
	// StatsNotSupported: this OS or provider cannot read counters (Stats
	// is nil).
	StatsNotSupported
)

var statsStatusNames = [...]string{
	StatsUnknown:          "unknown",
	StatsOK:               "ok",
	StatsPartial:          "partial",
	StatsNotRequested:     "not-requested",
	StatsNotAvailable:     "not-available",
	StatsPermissionDenied: "permission-denied",
	StatsNotSupported:     "not-supported",
}

// String returns a short kebab-case name ("not-available") or
// "StatsStatus(N)".
func (s StatsStatus) String() string { return nameOf(statsStatusNames[:], "StatsStatus", uint8(s)) }

// MarshalText implements encoding.TextMarshaler with String's names.
func (s StatsStatus) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler for the names String returns.
func (s *StatsStatus) UnmarshalText(b []byte) error {
	v, err := parseName(statsStatusNames[:], "StatsStatus", string(b))
	*s = StatsStatus(v)
	return err
}

// Stats are one connection's traffic counters, as the OS keeps them for the
// socket (tcp_info on Linux, GetPerTcpConnectionEStats on Windows). A
// provider fills Connection.Stats when Query.Stats asks for them;
// docs/model.md says where each counter comes from on every OS. Counters
// never decrease during a connection's life.
type Stats struct {
	// BytesSent counts the payload bytes sent, retransmissions included
	// (Linux tcpi_bytes_sent).
	BytesSent uint64
	// BytesReceived counts the payload bytes received (Linux
	// tcpi_bytes_received).
	BytesReceived uint64
	// SegmentsSent counts the segments sent (Linux tcpi_segs_out).
	SegmentsSent uint64
	// SegmentsReceived counts the segments received (Linux tcpi_segs_in).
	SegmentsReceived uint64
	// Retransmits counts the segments retransmitted (Linux
	// tcpi_total_retrans).
	Retransmits uint64
	// RTT is the smoothed round-trip time (Linux tcpi_rtt); 0 when no
	// sample was taken yet.
	RTT time.Duration
	// Since is when counting began when that is later than the
	// connection's birth (Connection.StatsStatus is StatsPartial); zero
	// when the counters cover the connection's whole life. Where the OS
	// cannot say when counting began (Windows collection that another
	// program had already enabled), it is the latest time counting can
	// have begun: the counters cover at least the time since Since.
	Since time.Time
}

// statsJSON is the wire form of Stats; its field order is the key order.
type statsJSON struct {
	BytesSent        uint64     `json:"bytes_sent"`
	BytesReceived    uint64     `json:"bytes_received"`
	SegmentsSent     uint64     `json:"segments_sent"`
	SegmentsReceived uint64     `json:"segments_received"`
	Retransmits      uint64     `json:"retransmits"`
	RTTMicros        int64      `json:"rtt_us"`
	Since            *time.Time `json:"since,omitempty"`
}

func (s *Stats) toJSON() *statsJSON {
	if s == nil {
		return nil
	}
	return &statsJSON{
		BytesSent:        s.BytesSent,
		BytesReceived:    s.BytesReceived,
		SegmentsSent:     s.SegmentsSent,
		SegmentsReceived: s.SegmentsReceived,
		Retransmits:      s.Retransmits,
		RTTMicros:        s.RTT.Microseconds(),
		Since:            timeOrNil(s.Since),
	}
}

func (w *statsJSON) stats() *Stats {
	if w == nil {
		return nil
	}
	st := &Stats{
		BytesSent:        w.BytesSent,
		BytesReceived:    w.BytesReceived,
		SegmentsSent:     w.SegmentsSent,
		SegmentsReceived: w.SegmentsReceived,
		Retransmits:      w.Retransmits,
		RTT:              time.Duration(w.RTTMicros) * time.Microsecond,
	}
	if w.Since != nil {
		st.Since = *w.Since
	}
	return st
}
