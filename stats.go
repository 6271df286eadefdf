package tcptable

import "time"

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
}

// statsJSON is the wire form of Stats; its field order is the key order.
type statsJSON struct {
	BytesSent        uint64 `json:"bytes_sent"`
	BytesReceived    uint64 `json:"bytes_received"`
	SegmentsSent     uint64 `json:"segments_sent"`
	SegmentsReceived uint64 `json:"segments_received"`
	Retransmits      uint64 `json:"retransmits"`
	RTTMicros        int64  `json:"rtt_us"`
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
	}
}

func (w *statsJSON) stats() *Stats {
	if w == nil {
		return nil
	}
	return &Stats{
		BytesSent:        w.BytesSent,
		BytesReceived:    w.BytesReceived,
		SegmentsSent:     w.SegmentsSent,
		SegmentsReceived: w.SegmentsReceived,
		Retransmits:      w.Retransmits,
		RTT:              time.Duration(w.RTTMicros) * time.Microsecond,
	}
}
