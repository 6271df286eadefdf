package metrics_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/conformance"
	"github.com/tcptable/tcptable/metrics"
	"github.com/tcptable/tcptable/providers/mock"
)

// dialTransfer dials a simulated pair of p, owned by this process, as a
// pair that moves bytes (conformance.TransferPair).
func dialTransfer(t *testing.T, p *mock.Provider, network string) conformance.TransferPair {
	t.Helper()
	pair, err := p.Dial(network)
	require.NoError(t, err)
	t.Cleanup(func() { pair.Close() })
	tp, ok := pair.(conformance.TransferPair)
	require.True(t, ok, "the mock's pairs move bytes")
	return tp
}

// keyOf returns the Key of p's row with local address local.
func keyOf(t *testing.T, p *mock.Provider, local string) tcptable.Key {
	t.Helper()
	for _, c := range p.Rows() {
		if c.Local.String() == local {
			return c.Key()
		}
	}
	t.Fatalf("no row with local address %s", local)
	return tcptable.Key{}
}

// selfProcess is the process label of rows the mock simulates for this
// process.
func selfProcess(t *testing.T) string {
	t.Helper()
	exe, err := os.Executable()
	require.NoError(t, err)
	return filepath.Base(exe)
}

// TestBytesThroughMockTraffic drives the byte counters the way a
// downstream test would: simulated pairs move bytes with Transfer, and
// AddTraffic and SetStats advance single rows. Every byte moved after the
// first read is counted once, for the process owning the row that moved
// it; what was moved before it is the baseline.
func TestBytesThroughMockTraffic(t *testing.T) {
	p := mock.New()
	me := selfProcess(t)
	old := dialTransfer(t, p, "tcp4")
	require.NoError(t, old.Transfer(1_000_000, 300_000)) // before the first read: the baseline
	nginx := conn("127.0.0.1:8080", "127.0.0.1:50000", "nginx", 99, 0, 0)
	nginx.Stats, nginx.StatsStatus = nil, tcptable.StatsNotAvailable
	p.Add(nginx)
	c := newCollector(t, p, metrics.WithoutTrace())
	require.Equal(t, 0, testutil.CollectAndCount(c, byteSeries...), "the first read is only a baseline")

	// Both ends of the old pair are this process': each byte is sent by
	// one end and received by the other.
	require.NoError(t, old.Transfer(5000, 2000))
	want := bytesWant(me + " 7000 7000")
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(want), byteSeries...))

	// A pair born after the first read counts in full; AddTraffic moves
	// one end only; SetStats gives the nginx row counters, which count in
	// full (it had none before).
	fresh := dialTransfer(t, p, "tcp6")
	require.NoError(t, fresh.Transfer(3000, 1000))
	require.True(t, p.AddTraffic(keyOf(t, p, old.Client().String()), 100, 0))
	require.True(t, p.SetStats(nginx.Key(), tcptable.Stats{BytesSent: 400, BytesReceived: 40}))
	want = bytesWant(me+" "+strconv.Itoa(7000+4000+100)+" "+strconv.Itoa(7000+4000), "nginx 400 40")
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(want), byteSeries...))

	// The old pair closes: nothing is taken back, and an unchanged
	// table adds nothing.
	require.NoError(t, old.Close())
	for range 2 {
		require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(want), byteSeries...))
	}
	require.NoError(t, fresh.Transfer(10, 20))
	want = bytesWant(me+" 11130 11030", "nginx 400 40")
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(want), byteSeries...))
}

// TestRetransmitsThroughMock: the retransmitted segments a row's Stats
// count after the first read are added to its process like its bytes; a
// counter lower than before (the OS restarted it) makes the row a new
// connection, all of whose counters count.
func TestRetransmitsThroughMock(t *testing.T) {
	row := conn("127.0.0.1:40000", "127.0.0.1:443", "curl", 7, 0, 0)
	p := mock.New(row)
	set := func(sent, recv, retrans uint64) {
		t.Helper()
		require.True(t, p.SetStats(row.Key(), tcptable.Stats{BytesSent: sent, BytesReceived: recv, Retransmits: retrans}))
	}
	set(1000, 1000, 5)
	c := newCollector(t, p, metrics.WithoutTrace())
	testutil.CollectAndCount(c) // the baseline
	set(2000, 1000, 12)
	want := func(sent, recv, retrans int) string {
		return bytesWant("curl "+strconv.Itoa(sent)+" "+strconv.Itoa(recv)) + retransHeader +
			`tcptable_process_retransmitted_segments_total{process="curl"} ` + strconv.Itoa(retrans) + "\n"
	}
	all := append([]string{"tcptable_process_retransmitted_segments_total"}, byteSeries...)
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(want(1000, 0, 7)), all...))
	set(2500, 1100, 3) // retransmits restarted: a new connection on the address
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(want(3500, 1100, 10)), all...))
}

const retransHeader = `# HELP tcptable_process_retransmitted_segments_total TCP segments retransmitted, by owning process, since the exporter's first table read.
# TYPE tcptable_process_retransmitted_segments_total counter
`
