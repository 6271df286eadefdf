package linux

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcptable/tcptable"
)

// tcpInfoFixture returns a struct tcp_info of n bytes (a kernel's length)
// whose members hold the values of fixtureStats, and 0xee in every byte
// beyond Linux 4.19's members (later kernels' members, to be ignored).
func tcpInfoFixture(n int) []byte {
	b := make([]byte, max(n, tcpInfoLen419))
	for i := tcpInfoLen419; i < len(b); i++ {
		b[i] = 0xee
	}
	b[0] = tcpEstablished // tcpi_state
	ne := binary.NativeEndian
	for off, v := range map[int]uint32{
		tiRTO: 204000, tiSndMSS: 32768, tiUnacked: 3, tiLost: 1,
		tiLastDataSent: 150, tiLastDataRecv: 250, tiLastAckRecv: 120,
		tiRTT: 1234, tiRTTVar: 617, tiSndSsthresh: 20, tiSndCwnd: 10,
		tiTotalRetrans: 4, tiSegsOut: 700, tiSegsIn: 650,
		tiNotsentBytes: 1000, tiMinRTT: 40,
	} {
		ne.PutUint32(b[off:], v)
	}
	for off, v := range map[int]uint64{
		tiPacingRate: 5 << 30, tiBytesAcked: 1 << 33, tiBytesReceived: 3 << 32,
		tiDeliveryRate: 1 << 31, tiBusyTime: 9_000_000, tiRwndLimited: 2_000_000, tiSndbufLimited: 1_000_000,
		tiBytesSent: 1<<33 + 4096, tiBytesRetrans: 4096,
	} {
		ne.PutUint64(b[off:], v)
	}
	return b[:n]
}

// fixtureStats is what tcpInfoFixture(tcpInfoLen419) decodes to, with
// rqueue 7 and wqueue 3000 from the message.
var fixtureStats = tcptable.Stats{
	BytesSent: 1<<33 + 4096, BytesReceived: 3 << 32, SegmentsSent: 700, SegmentsReceived: 650, Retransmits: 4,
	RTT:        1234 * time.Microsecond,
	BytesAcked: 1 << 33, BytesRetransmitted: 4096,
	RTTVar: 617 * time.Microsecond, MinRTT: 40 * time.Microsecond, RTO: 204 * time.Millisecond,
	MSS: 32768, CongestionWindow: 10, SlowStartThreshold: 20, UnackedSegments: 3, LostSegments: 1,
	UnackedBytes: 2000, NotSentBytes: 1000, ReceiveQueueBytes: 7,
	DeliveryRate: 1 << 31, PacingRate: 5 << 30,
	SinceLastSend: 150 * time.Millisecond, SinceLastReceive: 250 * time.Millisecond, SinceLastAck: 120 * time.Millisecond,
	BusyTime: 9 * time.Second, ReceiveWindowLimited: 2 * time.Second, SendBufferLimited: time.Second,
}

func TestDecodeTCPInfo(t *testing.T) {
	var st tcptable.Stats
	decodeTCPInfo(tcpInfoFixture(tcpInfoLen419), 7, 3000, false, &st)
	assert.Equal(t, fixtureStats, st)

	// A newer kernel's longer struct: the members it appended are ignored.
	st = tcptable.Stats{}
	decodeTCPInfo(tcpInfoFixture(tcpInfoLen419+56), 7, 3000, false, &st)
	assert.Equal(t, fixtureStats, st)
}

// TestDecodeTCPInfoOlderKernels decodes the struct as each kernel version
// that appended members made it: what it lacks is zero, even where st held
// something before (the Stats of a slab are never reused, but a decoder
// that leaves stale values must not pass).
func TestDecodeTCPInfoOlderKernels(t *testing.T) {
	full := fixtureStats
	stale := tcptable.Stats{BytesSent: 99, BytesReceived: 99, SegmentsSent: 99, MinRTT: 99, DeliveryRate: 99, BusyTime: 99, NotSentBytes: 99}
	for _, tc := range []struct {
		kernel string
		n      int
		want   func(s *tcptable.Stats)
	}{
		{"2.6.12 (104 bytes)", 104, func(s *tcptable.Stats) {
			s.PacingRate, s.BytesAcked, s.BytesReceived, s.SegmentsSent, s.SegmentsReceived = 0, 0, 0, 0, 0
			s.NotSentBytes, s.UnackedBytes, s.MinRTT = 0, 3000, 0
			s.DeliveryRate, s.BusyTime, s.ReceiveWindowLimited, s.SendBufferLimited = 0, 0, 0, 0
			s.BytesSent, s.BytesRetransmitted = 0, 0
		}},
		{"3.15 (120 bytes)", 120, func(s *tcptable.Stats) {
			s.BytesAcked, s.BytesReceived, s.SegmentsSent, s.SegmentsReceived = 0, 0, 0, 0
			s.NotSentBytes, s.UnackedBytes, s.MinRTT = 0, 3000, 0
			s.DeliveryRate, s.BusyTime, s.ReceiveWindowLimited, s.SendBufferLimited = 0, 0, 0, 0
			s.BytesSent, s.BytesRetransmitted = 0, 0
		}},
		{"4.2 (144 bytes)", 144, func(s *tcptable.Stats) {
			s.NotSentBytes, s.UnackedBytes, s.MinRTT = 0, 3000, 0
			s.DeliveryRate, s.BusyTime, s.ReceiveWindowLimited, s.SendBufferLimited = 0, 0, 0, 0
			s.BytesSent, s.BytesRetransmitted = 0, 0
		}},
		{"4.6 (160 bytes)", 160, func(s *tcptable.Stats) {
			s.DeliveryRate, s.BusyTime, s.ReceiveWindowLimited, s.SendBufferLimited = 0, 0, 0, 0
			s.BytesSent, s.BytesRetransmitted = 0, 0
		}},
		{"4.10 (192 bytes)", 192, func(s *tcptable.Stats) { s.BytesSent, s.BytesRetransmitted = 0, 0 }},
		{"4.18 (200 bytes)", 200, func(s *tcptable.Stats) { s.BytesSent, s.BytesRetransmitted = 0, 0 }},
		{"4.19 (224 bytes)", 224, func(*tcptable.Stats) {}},
		{"empty", 0, func(s *tcptable.Stats) { *s = tcptable.Stats{UnackedBytes: 3000, ReceiveQueueBytes: 7} }},
	} {
		t.Run(tc.kernel, func(t *testing.T) {
			want := full
			tc.want(&want)
			st := stale
			decodeTCPInfo(tcpInfoFixture(tc.n), 7, 3000, false, &st)
			assert.Equal(t, want, st)
		})
	}
}

func TestDecodeTCPInfoSentinels(t *testing.T) {
	b := tcpInfoFixture(tcpInfoLen419)
	ne := binary.NativeEndian
	ne.PutUint32(b[tiSndSsthresh:], infiniteSsthresh)
	ne.PutUint64(b[tiPacingRate:], ^uint64(0))
	ne.PutUint32(b[tiMinRTT:], ^uint32(0))
	ne.PutUint64(b[tiBusyTime:], ^uint64(0))
	ne.PutUint32(b[tiNotsentBytes:], 5000) // more than wqueue: nothing in flight
	var st tcptable.Stats
	decodeTCPInfo(b, 0, 3000, false, &st)
	assert.Zero(t, st.SlowStartThreshold, "TCP_INFINITE_SSTHRESH means unset")
	assert.Zero(t, st.PacingRate, "~0 means unlimited")
	assert.Zero(t, st.MinRTT, "~0U means no sample")
	assert.Positive(t, st.BusyTime, "a huge count saturates instead of wrapping negative")
	assert.Zero(t, st.UnackedBytes)
	assert.Equal(t, uint64(5000), st.NotSentBytes)
}

func TestDecodeTCPInfoListener(t *testing.T) {
	var st tcptable.Stats
	decodeTCPInfo(tcpInfoFixture(tcpInfoLen419), 5, 4096, true, &st)
	want := fixtureStats
	want.UnackedSegments, want.NotSentBytes, want.UnackedBytes, want.ReceiveQueueBytes = 0, 0, 0, 0
	assert.Equal(t, want, st, "a listener's queue sizes are its accept queue and backlog, not bytes or segments")
}

func TestDecodeTCPInfoAllocatesNothing(t *testing.T) {
	b := tcpInfoFixture(tcpInfoLen419)
	var st tcptable.Stats
	allocs := testing.AllocsPerRun(100, func() { decodeTCPInfo(b, 1, 2, false, &st) })
	assert.Zero(t, allocs)
}

// TestParseDiagInfo decodes a dump whose rows carry tcp_info and fills
// their Stats from a slab: rows without the attribute (TIME-WAIT) are
// StatsNotAvailable, a nil slab means StatsNotRequested, and a row costs
// no allocation.
func TestParseDiagInfo(t *testing.T) {
	dump := fixtureDump(1)
	rows, _, err := collectDiag(t, dump, 1)
	require.NoError(t, err)
	require.Len(t, rows, len(fixtureRows))
	assert.Nil(t, rows[2].Info, "a TIME-WAIT row has no tcp_info")
	assert.Equal(t, fixtureRows[3].Info, rows[3].Info)

	slab := newStatsSlab(make([]tcptable.Stats, len(fixtureRows)))
	var got []tcptable.Connection
	_, err = parseDiag(dump, 1, func(r *diagRow) {
		c, ok := connFromRow(r, numericZone)
		require.True(t, ok)
		slab.fill(&c, r)
		got = append(got, c)
	})
	require.NoError(t, err)
	assert.Equal(t, tcptable.StatsNotAvailable, got[2].StatsStatus)
	assert.Nil(t, got[2].Stats)
	assert.Equal(t, tcptable.StatsOK, got[3].StatsStatus)
	require.NotNil(t, got[3].Stats)
	assert.Equal(t, fixtureStats, *got[3].Stats)
	assert.Equal(t, tcptable.StatsOK, got[0].StatsStatus, "listeners have tcp_info too")

	var c tcptable.Connection
	(*statsSlab)(nil).fill(&c, &rows[3])
	assert.Equal(t, tcptable.StatsNotRequested, c.StatsStatus)
	assert.Nil(t, c.Stats)

	// 200 rows with tcp_info in one datagram: parseDiag's one allocation
	// per call (its row, which escapes to fn) and none per row.
	var many []byte
	for range 200 {
		many = append(many, nlMsg(sockDiagByFamily, nlmFMulti, 1, diagMsg(fixtureRows[3]))...)
	}
	big := newStatsSlab(make([]tcptable.Stats, 200*101))
	var conn tcptable.Connection
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := parseDiag(many, 1, func(r *diagRow) { big.fill(&conn, r) }); err != nil {
			t.Fatal(err)
		}
	})
	assert.LessOrEqual(t, allocs, 1.0, "decoding rows with tcp_info into a slab allocates nothing per row")
}

func TestStatsSlabGrows(t *testing.T) {
	s := newStatsSlab(make([]tcptable.Stats, 2))
	a, b := s.next(), s.next()
	a.BytesSent, b.BytesSent = 1, 2
	c := s.next() // the first array is used up
	c.BytesSent = 3
	assert.Equal(t, uint64(1), a.BytesSent, "earlier Stats stay where they are")
	assert.NotSame(t, a, c)
	assert.Len(t, s.free, minStatsChunk-1)
}

func TestParseDiagBadAttribute(t *testing.T) {
	msg := diagMsg(fixtureRows[3])
	binary.NativeEndian.PutUint16(msg[inetDiagMsgLen+8:], 2000) // INET_DIAG_INFO's nla_len beyond the message
	_, _, err := collectDiag(t, nlMsg(sockDiagByFamily, nlmFMulti, 1, msg), 1)
	assert.ErrorIs(t, err, errMalformed)
	assert.Contains(t, err.Error(), "attribute of length 2000")

	msg = diagMsg(fixtureRows[3])
	binary.NativeEndian.PutUint16(msg[inetDiagMsgLen:], 2) // nla_len shorter than its header
	_, _, err = collectDiag(t, nlMsg(sockDiagByFamily, nlmFMulti, 1, msg), 1)
	assert.ErrorIs(t, err, errMalformed)
}
