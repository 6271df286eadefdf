package metrics_test

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/metrics"
	"github.com/tcptable/tcptable/providers/mock"
)

// conn is an established row of process name with byte counters.
func conn(local, remote, name string, socket, sent, received uint64) tcptable.Connection {
	return tcptable.Connection{State: tcptable.StateEstablished, Local: ap(local), Remote: ap(remote),
		PID: 10, Module: tcptable.Module{Name: name}, Socket: socket,
		Stats: &tcptable.Stats{BytesSent: sent, BytesReceived: received}, StatsStatus: tcptable.StatsOK}
}

const bytesHeader = `
# HELP tcptable_process_received_bytes_total Payload bytes received over TCP, by owning process, since the exporter's first table read.
# TYPE tcptable_process_received_bytes_total counter
`

// bytesWant is the expected exposition of the byte counters, given as
// "process sent received" lines.
func bytesWant(lines ...string) string {
	var recv, sent strings.Builder
	for _, l := range lines {
		f := strings.Fields(l)
		recv.WriteString(`tcptable_process_received_bytes_total{process="` + f[0] + `"} ` + f[2] + "\n")
		sent.WriteString(`tcptable_process_sent_bytes_total{process="` + f[0] + `"} ` + f[1] + "\n")
	}
	return bytesHeader + recv.String() + `# HELP tcptable_process_sent_bytes_total Payload bytes sent over TCP (retransmissions included), by owning process, since the exporter's first table read.
# TYPE tcptable_process_sent_bytes_total counter
` + sent.String()
}

var byteSeries = []string{"tcptable_process_sent_bytes_total", "tcptable_process_received_bytes_total"}

// TestBytesAccumulate follows connections through reads: the first read
// is the baseline, growth is added, a new connection adds all it moved, a
// closed one stops adding without taking anything back, a reused address
// (lower counters or another socket) counts as a new connection.
func TestBytesAccumulate(t *testing.T) {
	p := mock.New(
		conn("127.0.0.1:1000", "127.0.0.1:80", "curl", 1, 500, 7000),
		conn("127.0.0.1:80", "127.0.0.1:1000", "nginx", 2, 7000, 500),
	)
	c := newCollector(t, p)
	assert.Equal(t, 0, testutil.CollectAndCount(c, byteSeries...), "the first read is only a baseline")

	// Both ends move 100 bytes each way; a new curl connection has moved 50/60.
	p.Set(
		conn("127.0.0.1:1000", "127.0.0.1:80", "curl", 1, 600, 7100),
		conn("127.0.0.1:80", "127.0.0.1:1000", "nginx", 2, 7100, 600),
		conn("127.0.0.1:1001", "127.0.0.1:80", "curl", 3, 50, 60),
	)
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(bytesWant("curl 150 160", "nginx 100 100")), byteSeries...))

	// The first curl connection is gone: nothing is taken back. The second
	// goes on. The nginx address is reused by a new connection (another
	// socket) whose counters are lower: all of them count.
	p.Set(
		conn("127.0.0.1:1001", "127.0.0.1:80", "curl", 3, 70, 60),
		conn("127.0.0.1:80", "127.0.0.1:1000", "nginx", 4, 30, 40),
	)
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(bytesWant("curl 170 160", "nginx 130 140")), byteSeries...))

	// Same socket, counters lower than remembered: the OS restarted them
	// (a new connection the provider could not tell apart): all count.
	p.Set(
		conn("127.0.0.1:1001", "127.0.0.1:80", "curl", 0, 5, 5),
		conn("127.0.0.1:80", "127.0.0.1:1000", "nginx", 4, 30, 40),
	)
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(bytesWant("curl 175 165", "nginx 130 140")), byteSeries...))
}

// TestBytesTimeWaitKeepsBaseline: a connection that passes into TIME-WAIT
// has no counters there (Stats nil) but keeps its Key; when the address is
// later reused the new connection counts in full, and the old one's bytes
// are never counted twice.
func TestBytesTimeWaitKeepsBaseline(t *testing.T) {
	a := conn("127.0.0.1:1000", "127.0.0.1:80", "curl", 1, 100, 100)
	p := mock.New(a)
	c := newCollector(t, p)
	testutil.CollectAndCount(c)
	a.Stats = &tcptable.Stats{BytesSent: 150, BytesReceived: 100}
	p.Set(a)
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(bytesWant("curl 50 0")), byteSeries...))
	tw := a
	tw.State, tw.Stats, tw.PID, tw.Module, tw.Socket = tcptable.StateTimeWait, nil, 0, tcptable.Module{}, 0
	tw.OwnerStatus, tw.ModuleStatus, tw.StatsStatus = tcptable.OwnerKernel, tcptable.OwnerKernel, tcptable.StatsNotAvailable
	p.Set(tw)
	for range 3 { // TIME-WAIT lasts: the baseline stays
		require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(bytesWant("curl 50 0")), byteSeries...))
	}
	p.Set(a) // the same four-tuple with the same counters: already counted
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(bytesWant("curl 50 0")), byteSeries...))
}

func TestBytesDisabled(t *testing.T) {
	p := mock.New(conn("127.0.0.1:1000", "127.0.0.1:80", "curl", 1, 100, 100))
	c := newCollector(t, p, metrics.WithoutStats())
	testutil.CollectAndCount(c)
	p.Set(conn("127.0.0.1:1000", "127.0.0.1:80", "curl", 1, 200, 200))
	assert.Equal(t, 0, testutil.CollectAndCount(c, byteSeries...))
	for _, q := range p.Queries() {
		assert.False(t, q.Stats, "WithoutStats must not ask for statistics")
	}
	p2 := mock.New()
	testutil.CollectAndCount(newCollector(t, p2))
	require.NotEmpty(t, p2.Queries())
	assert.True(t, p2.Queries()[0].Stats, "statistics are asked for by default")
}
