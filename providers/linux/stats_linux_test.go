package linux_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/internal/netnstest"
	"github.com/tcptable/tcptable/providers/linux"
)

// ssInfo runs ss -tinH in the namespace and maps its rows by address pair.
func (f *nsFixture) ssInfo(t *testing.T) map[string]netnstest.SSInfoRow {
	t.Helper()
	out, err := f.ns.Exec("ss", "-tinH").Output()
	require.NoError(t, err)
	rows, err := netnstest.ParseSSInfo(out)
	require.NoError(t, err)
	m := map[string]netnstest.SSInfoRow{}
	for _, r := range rows {
		m[rowKey(r.State, r.Local, r.Remote)] = r
	}
	return m
}

// ssCounters are the -i values the differential test compares: a poll
// whose ss readings before and after differ in them saw traffic still
// settling (a delayed acknowledgement) and is repeated.
var ssCounters = []string{"bytes_sent", "bytes_received", "bytes_acked", "segs_out", "segs_in", "cwnd", "rtt"}

func countersOf(m map[string]netnstest.SSInfoRow) map[string]string {
	out := map[string]string{}
	for k, r := range m {
		for _, c := range ssCounters {
			out[k+" "+c] = r.Info[c]
		}
	}
	return out
}

// TestDifferentialStats compares the provider's Stats with `ss -tin` for
// idle IPv4 and IPv6 connections after known transfers, in a namespace
// the test creates (needs root and iproute2): the counters ss -i prints
// (bytes_sent, bytes_received, segs_out, segs_in, bytes_acked) and the
// congestion state (mss, cwnd, ssthresh, rtt, rttvar, minrtt, rto,
// delivery_rate) must be equal, and the bytes must add up to what the
// pairs moved. It also checks the statuses: listeners have Stats,
// TIME-WAIT rows StatsNotAvailable, a query without Stats
// StatsNotRequested, and /proc/net StatsNotSupported.
func TestDifferentialStats(t *testing.T) {
	exe, err := os.Executable()
	require.NoError(t, err)
	const pairs, transfer = 16, 100_000
	f := newNSFixture(t, exe, []netnstest.Spec{{Established: pairs, Transfer: transfer, Listeners: 2, TimeWait: 2}}, []bool{false})
	p, err := linux.New(linux.WithNetNS(f.ns.Path))
	require.NoError(t, err)
	defer p.Close()
	ctx := context.Background()
	q := tcptable.Query{Stats: true, Owners: tcptable.OwnerNone}

	var rows []tcptable.Connection
	var ss map[string]netnstest.SSInfoRow
	for attempt := 0; ; attempt++ {
		before := f.ssInfo(t)
		rows, err = p.Table(ctx, q)
		require.NoError(t, err)
		after := f.ssInfo(t)
		if reflect.DeepEqual(countersOf(before), countersOf(after)) {
			ss = before
			break
		}
		require.Less(t, attempt, 20, "ss -tin kept changing: the connections are not idle")
		time.Sleep(100 * time.Millisecond)
	}

	var sent, received uint64
	families := map[tcptable.Family]int{}
	states := map[tcptable.State]int{}
	for _, c := range rows {
		states[c.State]++
		switch c.State {
		case tcptable.StateTimeWait:
			assert.Nil(t, c.Stats, "%v", c)
			assert.Equal(t, tcptable.StatsNotAvailable, c.StatsStatus, "TIME-WAIT sockets have no tcp_info: %v", c)
			continue
		case tcptable.StateListen:
			assert.Equal(t, tcptable.StatsOK, c.StatsStatus, "%v", c)
			assert.NotNil(t, c.Stats, "listeners have tcp_info: %v", c)
			continue
		case tcptable.StateEstablished:
		default:
			t.Errorf("unexpected row %v", c)
			continue
		}
		require.NotNil(t, c.Stats, "%v", c)
		assert.Equal(t, tcptable.StatsOK, c.StatsStatus)
		r, ok := ss[rowKey(c.State, c.Local, c.Remote)]
		if !assert.True(t, ok, "ss -tin does not list %v", c) {
			continue
		}
		for _, d := range statsDiffs(c.Stats, r.Info) {
			t.Errorf("%v: %s", c, d)
		}
		families[c.Family()]++
		// tcpi_bytes_sent counts retransmitted bytes again (a loaded
		// host's loopback does retransmit): first transmissions only.
		sent += c.Stats.BytesSent - c.Stats.BytesRetransmitted
		received += c.Stats.BytesReceived
	}
	assert.Equal(t, 2*pairs, states[tcptable.StateEstablished], "both ends of every pair")
	assert.Equal(t, 2, states[tcptable.StateTimeWait])
	assert.Positive(t, families[tcptable.IPv4], "IPv4 connections compared")
	assert.Positive(t, families[tcptable.IPv6], "IPv6 connections compared")
	var want uint64
	for i := range pairs {
		n := netnstest.TransferBytes(transfer, i)
		want += uint64(n + n/3)
	}
	assert.Equal(t, want, sent, "every byte the pairs wrote, counted once by its sender")
	assert.Equal(t, want, received, "every byte the pairs read, counted once by its receiver")

	rows, err = p.Table(ctx, tcptable.Query{Owners: tcptable.OwnerNone})
	require.NoError(t, err)
	for _, c := range rows {
		assert.Nil(t, c.Stats)
		assert.Equal(t, tcptable.StatsNotRequested, c.StatsStatus, "%v", c)
	}

	pn, err := linux.New(linux.WithNetNS(f.ns.Path), linux.WithSource(linux.SourceProcNet))
	require.NoError(t, err)
	defer pn.Close()
	rows, err = pn.Table(ctx, q)
	require.NoError(t, err)
	require.NotEmpty(t, rows)
	for _, c := range rows {
		assert.Nil(t, c.Stats)
		assert.Equal(t, tcptable.StatsNotSupported, c.StatsStatus, "/proc/net has no counters: %v", c)
	}
}

// statsDiffs lists where st differs from the -i values of the same socket.
func statsDiffs(st *tcptable.Stats, info map[string]string) []string {
	var out []string
	num := func(key string) uint64 { // absent: ss prints it only when not 0
		v := strings.TrimSuffix(info[key], "bps")
		if v == "" {
			return 0
		}
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			out = append(out, fmt.Sprintf("ss %s:%q is not a number", key, info[key]))
		}
		return n
	}
	// ss prints times in milliseconds with %g (microseconds exact below
	// 1000 s).
	msec := func(s string) time.Duration {
		if s == "" {
			return 0
		}
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			out = append(out, fmt.Sprintf("ss time %q is not a number", s))
		}
		return time.Duration(math.Round(v*1000)) * time.Microsecond
	}
	rtt, rttvar, _ := strings.Cut(info["rtt"], "/")
	ssthresh := num("ssthresh") // printed only below 0xFFFF
	if st.SlowStartThreshold >= 0xffff {
		ssthresh = uint64(st.SlowStartThreshold)
	}
	for _, f := range []struct {
		name       string
		got, want  any
		ssFieldKey string
	}{
		{"BytesSent", st.BytesSent, num("bytes_sent"), "bytes_sent"},
		{"BytesReceived", st.BytesReceived, num("bytes_received"), "bytes_received"},
		{"SegmentsSent", st.SegmentsSent, num("segs_out"), "segs_out"},
		{"SegmentsReceived", st.SegmentsReceived, num("segs_in"), "segs_in"},
		{"BytesAcked", st.BytesAcked, num("bytes_acked"), "bytes_acked"},
		{"BytesRetransmitted", st.BytesRetransmitted, num("bytes_retrans"), "bytes_retrans"},
		{"MSS", uint64(st.MSS), num("mss"), "mss"},
		{"CongestionWindow", uint64(st.CongestionWindow), num("cwnd"), "cwnd"},
		{"SlowStartThreshold", uint64(st.SlowStartThreshold), ssthresh, "ssthresh"},
		{"UnackedSegments", uint64(st.UnackedSegments), num("unacked"), "unacked"},
		{"LostSegments", uint64(st.LostSegments), num("lost"), "lost"},
		{"DeliveryRate", st.DeliveryRate * 8, num("delivery_rate"), "delivery_rate (bits/s)"},
		{"RTT", st.RTT, msec(rtt), "rtt"},
		{"RTTVar", st.RTTVar, msec(rttvar), "rtt (variance)"},
		{"MinRTT", st.MinRTT, msec(info["minrtt"]), "minrtt"},
		{"RTO", st.RTO, msec(info["rto"]), "rto"},
	} {
		if f.got != f.want {
			out = append(out, fmt.Sprintf("%s is %v, ss -i %s says %v", f.name, f.got, f.ssFieldKey, f.want))
		}
	}
	return out
}
