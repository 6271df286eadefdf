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

// Stats are one connection's traffic counters and congestion state, as the
// OS keeps them for the socket (tcp_info on Linux, GetPerTcpConnectionEStats
// on Windows). A provider fills Connection.Stats when Query.Stats asks for
// them; docs/model.md says where each field comes from on every OS and
// which Linux version introduced it. A field the OS does not report (an
// older kernel's shorter tcp_info, or an OS without it) is zero.
//
// The counters (BytesSent through BytesRetransmitted) never decrease during
// a connection's life; the rest describe the connection at the moment it
// was read. Rates are in bytes per second, sizes in bytes unless the name
// says segments.
type Stats struct {
	// BytesSent counts the payload bytes sent, retransmissions included
	// (Linux tcpi_bytes_sent, as ss -i prints it).
	BytesSent uint64
	// BytesReceived counts the payload bytes received (Linux
	// tcpi_bytes_received).
	BytesReceived uint64
	// SegmentsSent counts the segments sent, retransmissions and pure
	// acknowledgements included (Linux tcpi_segs_out).
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

	// BytesAcked counts the payload bytes the peer acknowledged (Linux
	// tcpi_bytes_acked).
	BytesAcked uint64
	// BytesRetransmitted counts the payload bytes sent again (Linux
	// tcpi_bytes_retrans).
	BytesRetransmitted uint64

	// RTTVar is the round-trip time's mean deviation (Linux tcpi_rttvar).
	RTTVar time.Duration
	// MinRTT is the smallest round-trip time seen recently (Linux
	// tcpi_min_rtt, a windowed minimum); 0 when unknown.
	MinRTT time.Duration
	// RTO is the current retransmission timeout (Linux tcpi_rto).
	RTO time.Duration

	// MSS is the maximum segment size used for sending, in bytes (Linux
	// tcpi_snd_mss).
	MSS uint32
	// CongestionWindow is the congestion window in segments (Linux
	// tcpi_snd_cwnd).
	CongestionWindow uint32
	// SlowStartThreshold is the slow-start threshold in segments (Linux
	// tcpi_snd_ssthresh); 0 while it is unset (infinite: the connection
	// has not left its initial slow start).
	SlowStartThreshold uint32
	// UnackedSegments is the number of segments sent and not yet
	// acknowledged (Linux tcpi_unacked).
	UnackedSegments uint32
	// LostSegments is the number of sent segments currently presumed lost
	// (Linux tcpi_lost).
	LostSegments uint32
	// UnackedBytes is the number of payload bytes sent and not yet
	// acknowledged: the bytes in flight (Linux idiag_wqueue minus
	// tcpi_notsent_bytes).
	UnackedBytes uint64
	// NotSentBytes is the number of bytes the application wrote that TCP
	// has not sent yet (Linux tcpi_notsent_bytes).
	NotSentBytes uint64
	// ReceiveQueueBytes is the number of bytes received and not yet read
	// by the application (Linux idiag_rqueue, ss's Recv-Q).
	ReceiveQueueBytes uint64

	// DeliveryRate is the most recent rate at which the peer acknowledged
	// data, in bytes per second (Linux tcpi_delivery_rate).
	DeliveryRate uint64
	// PacingRate is the rate TCP paces its sending to, in bytes per
	// second (Linux tcpi_pacing_rate); 0 when unknown or unlimited.
	PacingRate uint64

	// SinceLastSend is the time since data was last sent (Linux
	// tcpi_last_data_sent, counted from the connection's establishment
	// when it has sent nothing).
	SinceLastSend time.Duration
	// SinceLastReceive is the time since data was last received (Linux
	// tcpi_last_data_recv).
	SinceLastReceive time.Duration
	// SinceLastAck is the time since an acknowledgement was last received
	// (Linux tcpi_last_ack_recv).
	SinceLastAck time.Duration

	// BusyTime is the time spent with data in flight (Linux
	// tcpi_busy_time).
	BusyTime time.Duration
	// ReceiveWindowLimited is the part of BusyTime during which sending
	// was limited by the peer's receive window (Linux tcpi_rwnd_limited).
	ReceiveWindowLimited time.Duration
	// SendBufferLimited is the part of BusyTime during which sending was
	// limited by the local send buffer (Linux tcpi_sndbuf_limited).
	SendBufferLimited time.Duration
}

// statsJSON is the wire form of Stats; its field order is the key order.
// Durations are whole microseconds (_us) or, where the OS counts in
// milliseconds, milliseconds (_ms); rates are bytes per second.
type statsJSON struct {
	BytesSent            uint64     `json:"bytes_sent"`
	BytesReceived        uint64     `json:"bytes_received"`
	SegmentsSent         uint64     `json:"segments_sent"`
	SegmentsReceived     uint64     `json:"segments_received"`
	Retransmits          uint64     `json:"retransmits"`
	RTT                  int64      `json:"rtt_us"`
	Since                *time.Time `json:"since,omitempty"`
	BytesAcked           uint64     `json:"bytes_acked"`
	BytesRetransmitted   uint64     `json:"bytes_retransmitted"`
	RTTVar               int64      `json:"rtt_var_us"`
	MinRTT               int64      `json:"min_rtt_us"`
	RTO                  int64      `json:"rto_us"`
	MSS                  uint32     `json:"mss_bytes"`
	CongestionWindow     uint32     `json:"congestion_window_segments"`
	SlowStartThreshold   uint32     `json:"slow_start_threshold_segments"`
	UnackedSegments      uint32     `json:"unacked_segments"`
	LostSegments         uint32     `json:"lost_segments"`
	UnackedBytes         uint64     `json:"unacked_bytes"`
	NotSentBytes         uint64     `json:"not_sent_bytes"`
	ReceiveQueueBytes    uint64     `json:"receive_queue_bytes"`
	DeliveryRate         uint64     `json:"delivery_rate_bytes_per_sec"`
	PacingRate           uint64     `json:"pacing_rate_bytes_per_sec"`
	SinceLastSend        int64      `json:"since_last_send_ms"`
	SinceLastReceive     int64      `json:"since_last_receive_ms"`
	SinceLastAck         int64      `json:"since_last_ack_ms"`
	BusyTime             int64      `json:"busy_time_us"`
	ReceiveWindowLimited int64      `json:"receive_window_limited_us"`
	SendBufferLimited    int64      `json:"send_buffer_limited_us"`
}

func (s *Stats) toJSON() *statsJSON {
	if s == nil {
		return nil
	}
	us := func(d time.Duration) int64 { return d.Microseconds() }
	ms := func(d time.Duration) int64 { return d.Milliseconds() }
	return &statsJSON{
		BytesSent:            s.BytesSent,
		BytesReceived:        s.BytesReceived,
		SegmentsSent:         s.SegmentsSent,
		SegmentsReceived:     s.SegmentsReceived,
		Retransmits:          s.Retransmits,
		RTT:                  us(s.RTT),
		Since:                timeOrNil(s.Since),
		BytesAcked:           s.BytesAcked,
		BytesRetransmitted:   s.BytesRetransmitted,
		RTTVar:               us(s.RTTVar),
		MinRTT:               us(s.MinRTT),
		RTO:                  us(s.RTO),
		MSS:                  s.MSS,
		CongestionWindow:     s.CongestionWindow,
		SlowStartThreshold:   s.SlowStartThreshold,
		UnackedSegments:      s.UnackedSegments,
		LostSegments:         s.LostSegments,
		UnackedBytes:         s.UnackedBytes,
		NotSentBytes:         s.NotSentBytes,
		ReceiveQueueBytes:    s.ReceiveQueueBytes,
		DeliveryRate:         s.DeliveryRate,
		PacingRate:           s.PacingRate,
		SinceLastSend:        ms(s.SinceLastSend),
		SinceLastReceive:     ms(s.SinceLastReceive),
		SinceLastAck:         ms(s.SinceLastAck),
		BusyTime:             us(s.BusyTime),
		ReceiveWindowLimited: us(s.ReceiveWindowLimited),
		SendBufferLimited:    us(s.SendBufferLimited),
	}
}

func (w *statsJSON) stats() *Stats {
	if w == nil {
		return nil
	}
	us := func(n int64) time.Duration { return time.Duration(n) * time.Microsecond }
	ms := func(n int64) time.Duration { return time.Duration(n) * time.Millisecond }
	st := &Stats{
		BytesSent:            w.BytesSent,
		BytesReceived:        w.BytesReceived,
		SegmentsSent:         w.SegmentsSent,
		SegmentsReceived:     w.SegmentsReceived,
		Retransmits:          w.Retransmits,
		RTT:                  us(w.RTT),
		BytesAcked:           w.BytesAcked,
		BytesRetransmitted:   w.BytesRetransmitted,
		RTTVar:               us(w.RTTVar),
		MinRTT:               us(w.MinRTT),
		RTO:                  us(w.RTO),
		MSS:                  w.MSS,
		CongestionWindow:     w.CongestionWindow,
		SlowStartThreshold:   w.SlowStartThreshold,
		UnackedSegments:      w.UnackedSegments,
		LostSegments:         w.LostSegments,
		UnackedBytes:         w.UnackedBytes,
		NotSentBytes:         w.NotSentBytes,
		ReceiveQueueBytes:    w.ReceiveQueueBytes,
		DeliveryRate:         w.DeliveryRate,
		PacingRate:           w.PacingRate,
		SinceLastSend:        ms(w.SinceLastSend),
		SinceLastReceive:     ms(w.SinceLastReceive),
		SinceLastAck:         ms(w.SinceLastAck),
		BusyTime:             us(w.BusyTime),
		ReceiveWindowLimited: us(w.ReceiveWindowLimited),
		SendBufferLimited:    us(w.SendBufferLimited),
	}
	if w.Since != nil {
		st.Since = *w.Since
	}
	return st
}
