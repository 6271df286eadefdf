package linux

import (
	"encoding/binary"
	"math"
	"time"

	"github.com/tcptable/tcptable"
)

// Offsets of the struct tcp_info members the provider reads
// (include/uapi/linux/tcp.h), with the Linux version that appended each.
// The kernel sends its whole struct in INET_DIAG_INFO: an older kernel's
// is shorter, a newer one's longer. A member beyond the end of what the
// kernel sent reads as zero; members after the ones listed are ignored.
const (
	tiRTO           = 8   // tcpi_rto, µs (2.6)
	tiSndMSS        = 16  // tcpi_snd_mss, bytes (2.6)
	tiUnacked       = 24  // tcpi_unacked, segments (2.6)
	tiLost          = 32  // tcpi_lost, segments (2.6)
	tiLastDataSent  = 44  // tcpi_last_data_sent, ms (2.6)
	tiLastDataRecv  = 52  // tcpi_last_data_recv, ms (2.6)
	tiLastAckRecv   = 56  // tcpi_last_ack_recv, ms (2.6)
	tiRTT           = 68  // tcpi_rtt, µs (2.6)
	tiRTTVar        = 72  // tcpi_rttvar, µs (2.6)
	tiSndSsthresh   = 76  // tcpi_snd_ssthresh, segments (2.6)
	tiSndCwnd       = 80  // tcpi_snd_cwnd, segments (2.6)
	tiTotalRetrans  = 100 // tcpi_total_retrans, segments (2.6.12); the struct was 104 bytes
	tiPacingRate    = 104 // tcpi_pacing_rate, bytes/s (3.15)
	tiBytesAcked    = 120 // tcpi_bytes_acked (4.1)
	tiBytesReceived = 128 // tcpi_bytes_received (4.1)
	tiSegsOut       = 136 // tcpi_segs_out (4.2)
	tiSegsIn        = 140 // tcpi_segs_in (4.2)
	tiNotsentBytes  = 144 // tcpi_notsent_bytes (4.6)
	tiMinRTT        = 148 // tcpi_min_rtt, µs (4.6)
	tiDeliveryRate  = 160 // tcpi_delivery_rate, bytes/s (4.9)
	tiBusyTime      = 168 // tcpi_busy_time, µs (4.10)
	tiRwndLimited   = 176 // tcpi_rwnd_limited, µs (4.10)
	tiSndbufLimited = 184 // tcpi_sndbuf_limited, µs (4.10)
	tiBytesSent     = 200 // tcpi_bytes_sent (4.19)
	tiBytesRetrans  = 208 // tcpi_bytes_retrans (4.19)

	// tcpInfoLen419 is the length of struct tcp_info in Linux 4.19, the
	// first that has every member above.
	tcpInfoLen419 = 224
)

// Sentinels the kernel uses for "no value".
const (
	infiniteSsthresh = 0x7fffffff // TCP_INFINITE_SSTHRESH
	unlimitedRate    = ^uint64(0) // sk_pacing_rate without a limit
)

// decodeTCPInfo fills st from b, a struct tcp_info of any length (an
// attribute payload straight from the kernel), and rqueue and wqueue, the
// inet_diag_msg queue sizes of the same socket. It allocates nothing,
// never fails and never reads beyond b: b is read as if zeros followed it,
// so members an older kernel does not send are zero, whatever st held
// before. For a listener (listen true) the queue members mean the accept
// queue and its limit, not bytes or segments in flight, and are left zero.
func decodeTCPInfo(b []byte, rqueue, wqueue uint32, listen bool, st *tcptable.Stats) {
	var info [tcpInfoLen419]byte
	copy(info[:], b)
	ne := binary.NativeEndian
	u32 := func(off int) uint32 { return ne.Uint32(info[off:]) }
	u64 := func(off int) uint64 { return ne.Uint64(info[off:]) }
	us := func(off int) time.Duration { return time.Duration(u32(off)) * time.Microsecond }
	ms := func(off int) time.Duration { return time.Duration(u32(off)) * time.Millisecond }
	us64 := func(off int) time.Duration {
		return time.Duration(min(u64(off), math.MaxInt64/1000)) * time.Microsecond
	}

	*st = tcptable.Stats{
		BytesSent:            u64(tiBytesSent),
		BytesReceived:        u64(tiBytesReceived),
		SegmentsSent:         uint64(u32(tiSegsOut)),
		SegmentsReceived:     uint64(u32(tiSegsIn)),
		Retransmits:          uint64(u32(tiTotalRetrans)),
		RTT:                  us(tiRTT),
		BytesAcked:           u64(tiBytesAcked),
		BytesRetransmitted:   u64(tiBytesRetrans),
		RTTVar:               us(tiRTTVar),
		MinRTT:               us(tiMinRTT),
		RTO:                  us(tiRTO),
		MSS:                  u32(tiSndMSS),
		CongestionWindow:     u32(tiSndCwnd),
		SlowStartThreshold:   u32(tiSndSsthresh),
		LostSegments:         u32(tiLost),
		DeliveryRate:         u64(tiDeliveryRate),
		PacingRate:           u64(tiPacingRate),
		SinceLastSend:        ms(tiLastDataSent),
		SinceLastReceive:     ms(tiLastDataRecv),
		SinceLastAck:         ms(tiLastAckRecv),
		BusyTime:             us64(tiBusyTime),
		ReceiveWindowLimited: us64(tiRwndLimited),
		SendBufferLimited:    us64(tiSndbufLimited),
	}
	if st.SlowStartThreshold >= infiniteSsthresh {
		st.SlowStartThreshold = 0
	}
	if st.PacingRate == unlimitedRate {
		st.PacingRate = 0
	}
	if st.MinRTT == time.Duration(^uint32(0))*time.Microsecond {
		st.MinRTT = 0 // ~0U: no sample yet
	}
	if listen {
		return
	}
	notsent := u32(tiNotsentBytes)
	st.UnackedSegments = u32(tiUnacked)
	st.NotSentBytes = uint64(notsent)
	st.ReceiveQueueBytes = uint64(rqueue)
	if wqueue > notsent {
		st.UnackedBytes = uint64(wqueue - notsent)
	}
}
