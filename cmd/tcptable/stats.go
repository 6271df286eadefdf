package main

import (
	"slices"
	"strconv"
	"time"

	"github.com/tcptable/tcptable"
)

// statsColumns are the members of Connection.Stats as CSV columns and
// --sort keys: "stats_" and the key of the JSON stats object, in its order
// (a test holds them together). A row without Stats has empty cells and
// sorts first.
func statsColumns() []column {
	num := func(key string, f func(s *tcptable.Stats) uint64) column {
		c := numCol("stats_"+key, func(c *conn) uint64 {
			if c.Stats == nil {
				return 0
			}
			return f(c.Stats) + 1 // none sorts first
		})
		c.text = func(c *conn) string {
			if c.Stats == nil {
				return ""
			}
			return strconv.FormatUint(f(c.Stats), 10)
		}
		c.stats = true
		return c
	}
	dur := func(key string, unit time.Duration, f func(s *tcptable.Stats) time.Duration) column {
		return num(key, func(s *tcptable.Stats) uint64 { return uint64(max(f(s), 0) / unit) })
	}
	since := timeCol("stats_since", func(c *conn) time.Time {
		if c.Stats == nil {
			return time.Time{}
		}
		return c.Stats.Since
	})
	since.stats = true
	us, ms := time.Microsecond, time.Millisecond
	type s = tcptable.Stats
	return []column{
		num("bytes_sent", func(s *s) uint64 { return s.BytesSent }),
		num("bytes_received", func(s *s) uint64 { return s.BytesReceived }),
		num("segments_sent", func(s *s) uint64 { return s.SegmentsSent }),
		num("segments_received", func(s *s) uint64 { return s.SegmentsReceived }),
		num("retransmits", func(s *s) uint64 { return s.Retransmits }),
		dur("rtt_us", us, func(s *s) time.Duration { return s.RTT }),
		since,
		num("bytes_acked", func(s *s) uint64 { return s.BytesAcked }),
		num("bytes_retransmitted", func(s *s) uint64 { return s.BytesRetransmitted }),
		dur("rtt_var_us", us, func(s *s) time.Duration { return s.RTTVar }),
		dur("min_rtt_us", us, func(s *s) time.Duration { return s.MinRTT }),
		dur("rto_us", us, func(s *s) time.Duration { return s.RTO }),
		num("mss_bytes", func(s *s) uint64 { return uint64(s.MSS) }),
		num("congestion_window_segments", func(s *s) uint64 { return uint64(s.CongestionWindow) }),
		num("slow_start_threshold_segments", func(s *s) uint64 { return uint64(s.SlowStartThreshold) }),
		num("unacked_segments", func(s *s) uint64 { return uint64(s.UnackedSegments) }),
		num("lost_segments", func(s *s) uint64 { return uint64(s.LostSegments) }),
		num("unacked_bytes", func(s *s) uint64 { return s.UnackedBytes }),
		num("not_sent_bytes", func(s *s) uint64 { return s.NotSentBytes }),
		num("receive_queue_bytes", func(s *s) uint64 { return s.ReceiveQueueBytes }),
		num("delivery_rate_bytes_per_sec", func(s *s) uint64 { return s.DeliveryRate }),
		num("pacing_rate_bytes_per_sec", func(s *s) uint64 { return s.PacingRate }),
		dur("since_last_send_ms", ms, func(s *s) time.Duration { return s.SinceLastSend }),
		dur("since_last_receive_ms", ms, func(s *s) time.Duration { return s.SinceLastReceive }),
		dur("since_last_ack_ms", ms, func(s *s) time.Duration { return s.SinceLastAck }),
		dur("busy_time_us", us, func(s *s) time.Duration { return s.BusyTime }),
		dur("receive_window_limited_us", us, func(s *s) time.Duration { return s.ReceiveWindowLimited }),
		dur("send_buffer_limited_us", us, func(s *s) time.Duration { return s.SendBufferLimited }),
	}
}

// allColumns returns columns() with statsColumns() where the JSON object
// has "stats": just before stats_status.
func allColumns() []column {
	cols := columns()
	i := slices.IndexFunc(cols, func(c column) bool { return c.key == "stats_status" })
	if i < 0 {
		i = len(cols)
	}
	return slices.Insert(cols, i, statsColumns()...)
}

// csvColumns are the --csv columns: every column, the Stats members only
// withStats (-i, which asks for them).
func csvColumns(withStats bool) []column {
	cols := allColumns()
	if !withStats {
		cols = slices.DeleteFunc(cols, func(c column) bool { return c.stats })
	}
	return cols
}

// applyStatsOptions checks --top against the other flags and turns on
// Query.Stats where the output needs the counters: --top, and --sort by a
// stats_ column.
func applyStatsOptions(o *options) error {
	if o.sort.col != nil && o.sort.col.stats {
		o.query.Stats = true
	}
	if o.top == 0 {
		return nil
	}
	switch {
	case o.watch > 0:
		return usagef("--top and --watch exclude each other")
	case o.summary:
		return usagef("--top and --summary exclude each other")
	case o.format == formatJSON:
		return usagef("--top prints a stream: use --ndjson instead of --json")
	case o.format == formatCSV:
		return usagef("--top does not print CSV: use --ndjson or the default view")
	case o.sort.col != nil:
		return usagef("--top orders by traffic; --sort orders a table")
	case o.resolve:
		return usagef("--top shows numeric addresses: -r is not supported with it")
	}
	o.query.Stats = true
	return nil
}

// statsCells are the -i columns of the table: a compact set of what ss -i
// prints, "-" for a row without Stats.
var statsHeader = []string{"SENT", "RECEIVED", "RTT", "RETRANS", "CWND"}

// statsCells returns c's cells under statsHeader.
func statsCells(c *tcptable.Connection) []string {
	st := c.Stats
	if st == nil {
		return []string{"-", "-", "-", "-", "-"}
	}
	return []string{
		humanBytes(float64(st.BytesSent)),
		humanBytes(float64(st.BytesReceived)),
		millis(st.RTT),
		strconv.FormatUint(st.Retransmits, 10),
		strconv.FormatUint(uint64(st.CongestionWindow), 10),
	}
}

// millis prints d in milliseconds with microsecond precision, as ss -i
// prints rtt ("0.052ms", "12.5ms").
func millis(d time.Duration) string {
	return strconv.FormatFloat(float64(d.Microseconds())/1000, 'f', -1, 64) + "ms"
}

// humanBytes prints a byte count (or rate) for people in binary units:
// "512", "1.5K", "15K", "2.3M", "4.0G" - at most four characters and a
// unit.
func humanBytes(n float64) string {
	const units = "KMGTPE"
	if n < 1024 {
		return strconv.FormatFloat(n, 'f', 0, 64)
	}
	u := -1
	for n >= 1024 && u < len(units)-1 {
		n /= 1024
		u++
	}
	if n < 9.95 {
		return strconv.FormatFloat(n, 'f', 1, 64) + units[u:u+1]
	}
	return strconv.FormatFloat(n, 'f', 0, 64) + units[u:u+1]
}
