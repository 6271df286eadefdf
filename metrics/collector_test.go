package metrics_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/metrics"
	"github.com/tcptable/tcptable/providers/mock"
)

var ap = netip.MustParseAddrPort

// fixture is a small host: sshd and nginx listening (nginx on both
// families and through two sockets on one address), clients, a
// kernel-owned TIME-WAIT row, a row whose owner is hidden, one without a
// name.
func fixture() []tcptable.Connection {
	sshd := tcptable.Module{Name: "sshd", Path: "/usr/sbin/sshd"}
	nginx := tcptable.Module{Name: "nginx", Path: "/usr/sbin/nginx"}
	curl := tcptable.Module{Name: "curl", Path: "/usr/bin/curl"}
	return []tcptable.Connection{
		{State: tcptable.StateListen, Local: ap("0.0.0.0:22"), PID: 812, Module: sshd, Socket: 1},
		{State: tcptable.StateListen, Local: ap("[::]:22"), PID: 812, Module: sshd, Socket: 2},
		{State: tcptable.StateListen, Local: ap("127.0.0.1:8080"), PID: 4242, Module: nginx, Socket: 3},
		{State: tcptable.StateListen, Local: ap("127.0.0.1:8080"), PID: 4243, Module: nginx, Socket: 4},
		{State: tcptable.StateEstablished, Local: ap("127.0.0.1:8080"), Remote: ap("127.0.0.1:51234"), PID: 4243, Module: nginx, Socket: 5},
		{State: tcptable.StateEstablished, Local: ap("127.0.0.1:51234"), Remote: ap("127.0.0.1:8080"), PID: 5000, Module: curl, Socket: 6},
		{State: tcptable.StateEstablished, Local: ap("[::1]:51300"), Remote: ap("[::1]:22"), PID: 5001, Module: curl, Socket: 7},
		{State: tcptable.StateCloseWait, Local: ap("[::1]:22"), Remote: ap("[::1]:51300"), PID: 812, Module: sshd, Socket: 8},
		{State: tcptable.StateTimeWait, Local: ap("10.0.0.5:44321"), Remote: ap("93.184.216.34:443"),
			OwnerStatus: tcptable.OwnerKernel, ModuleStatus: tcptable.OwnerKernel},
		{State: tcptable.StateEstablished, Local: ap("10.0.0.5:40000"), Remote: ap("140.82.112.3:443"),
			OwnerStatus: tcptable.OwnerPermissionDenied, ModuleStatus: tcptable.OwnerPermissionDenied, Socket: 9},
		{State: tcptable.StateSynSent, Local: ap("10.0.0.5:40001"), Remote: ap("140.82.112.3:443"),
			PID: 77, OwnerStatus: tcptable.OwnerOK, ModuleStatus: tcptable.OwnerExited, Socket: 10},
	}
}

// tableSeries are the series a read of the table produces (the duration
// is left out: it is not deterministic).
var tableSeries = []string{
	"tcptable_connections", "tcptable_process_connections", "tcptable_listener_info",
	"tcptable_listeners_omitted", "tcptable_owners_hidden", "tcptable_scrape_success",
	"tcptable_scrape_rows", "tcptable_scrape_errors_total", "tcptable_scrape_table_reads_total",
}

func newCollector(t *testing.T, p tcptable.Provider, opts ...metrics.Option) *metrics.Collector {
	t.Helper()
	c := metrics.NewCollector(p, opts...)
	t.Cleanup(func() { assert.NoError(t, c.Close()) })
	return c
}

func TestCollectFixture(t *testing.T) {
	c := newCollector(t, mock.New(fixture()...))
	want := connectionsHeader + `tcptable_connections{family="ipv4",state="established"} 3
tcptable_connections{family="ipv4",state="listen"} 3
tcptable_connections{family="ipv4",state="syn_sent"} 1
tcptable_connections{family="ipv4",state="time_wait"} 1
tcptable_connections{family="ipv6",state="close_wait"} 1
tcptable_connections{family="ipv6",state="established"} 1
tcptable_connections{family="ipv6",state="listen"} 1
` + listenerInfoHeader + `tcptable_listener_info{address="0.0.0.0",port="22",process="sshd"} 1
tcptable_listener_info{address="127.0.0.1",port="8080",process="nginx"} 1
tcptable_listener_info{address="::",port="22",process="sshd"} 1
` + listenersOmittedHeader + `tcptable_listeners_omitted 0
# HELP tcptable_owners_hidden TCP endpoints whose owning process the exporter may not see (permission denied); run it with more privilege to see them.
# TYPE tcptable_owners_hidden gauge
tcptable_owners_hidden 1
` + processHeader + `tcptable_process_connections{process="[hidden]",state="established"} 1
tcptable_process_connections{process="[kernel]",state="time_wait"} 1
tcptable_process_connections{process="[unknown]",state="syn_sent"} 1
tcptable_process_connections{process="curl",state="established"} 2
tcptable_process_connections{process="nginx",state="established"} 1
tcptable_process_connections{process="nginx",state="listen"} 2
tcptable_process_connections{process="sshd",state="close_wait"} 1
tcptable_process_connections{process="sshd",state="listen"} 2
# HELP tcptable_scrape_rows Rows (TCP endpoints) in the table read for this scrape.
# TYPE tcptable_scrape_rows gauge
tcptable_scrape_rows 11
` + scrapeStatus(nil, 1) + readsWant(1)
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(want), tableSeries...))
}

func TestLint(t *testing.T) {
	rows := fixture()
	for i := range rows {
		rows[i].Stats = &tcptable.Stats{BytesSent: 100, BytesReceived: 200}
	}
	p := mock.New(rows...)
	c := newCollector(t, p)
	testutil.CollectAndCount(c) // the first read records where the counters stand
	for i := range rows {
		rows[i].Stats.BytesSent += 10
	}
	p.Set(rows...)
	problems, err := testutil.CollectAndLint(c)
	require.NoError(t, err)
	assert.Empty(t, problems)
	assert.Positive(t, testutil.CollectAndCount(c, "tcptable_process_sent_bytes_total"), "the lint must have seen the counters")
}

// TestRegistry registers the collector as a checked collector: Describe
// must announce every series Collect sends, and no two series may clash.
func TestRegistry(t *testing.T) {
	rows := fixture()
	rows[0].Module.Name = "other"        // poses as the overflow bucket
	rows[1].Module.Name = "[kernel]"     // poses as a reserved bucket
	rows[2].Module.Name = "x\x1b[2J\xff" // control bytes, invalid UTF-8
	reg := prometheus.NewPedanticRegistry()
	c := newCollector(t, mock.New(rows...), metrics.WithTopProcesses(1))
	require.NoError(t, reg.Register(c))
	mfs, err := reg.Gather()
	require.NoError(t, err)
	procs := map[string]bool{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "process" {
					procs[l.GetValue()] = true
				}
			}
		}
	}
	assert.True(t, procs[`"other"`], "a process named other is quoted: %v", procs)
	assert.True(t, procs[`"[kernel]"`], "a process named [kernel] is quoted: %v", procs)
	assert.True(t, procs[`"x\x1b[2J\xff"`], "control bytes are escaped: %v", procs)
	assert.True(t, procs["other"] && procs["[kernel]"], "the buckets remain: %v", procs)
}

func TestTopProcesses(t *testing.T) {
	var rows []tcptable.Connection
	// proc-a has 5 rows, proc-b 4, ..., proc-e 1.
	port := uint16(1000)
	for i, name := range []string{"proc-a", "proc-b", "proc-c", "proc-d", "proc-e"} {
		for range 5 - i {
			port++
			rows = append(rows, tcptable.Connection{State: tcptable.StateEstablished,
				Local: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port), Remote: ap("127.0.0.1:80"),
				PID: uint32(100 + i), Module: tcptable.Module{Name: name}})
		}
	}
	c := newCollector(t, mock.New(rows...), metrics.WithTopProcesses(2))
	want := processHeader + `tcptable_process_connections{process="other",state="established"} 6
tcptable_process_connections{process="proc-a",state="established"} 5
tcptable_process_connections{process="proc-b",state="established"} 4
`
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(want), "tcptable_process_connections"))

	c0 := newCollector(t, mock.New(rows...), metrics.WithTopProcesses(0))
	want0 := processHeader + `tcptable_process_connections{process="other",state="established"} 15
`
	require.NoError(t, testutil.CollectAndCompare(c0, strings.NewReader(want0), "tcptable_process_connections"))
}

func TestListenerCap(t *testing.T) {
	var rows []tcptable.Connection
	for i := range 5 {
		rows = append(rows, tcptable.Connection{State: tcptable.StateListen,
			Local: netip.AddrPortFrom(netip.MustParseAddr("0.0.0.0"), uint16(9005-i)), PID: 1, Module: tcptable.Module{Name: "srv"}})
	}
	c := newCollector(t, mock.New(rows...), metrics.WithMaxListeners(2))
	want := listenerInfoHeader + `tcptable_listener_info{address="0.0.0.0",port="9001",process="srv"} 1
tcptable_listener_info{address="0.0.0.0",port="9002",process="srv"} 1
` + listenersOmittedHeader + `tcptable_listeners_omitted 3
`
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(want), "tcptable_listener_info", "tcptable_listeners_omitted"))
}

func TestReadErrors(t *testing.T) {
	p := mock.New(fixture()...)
	c := newCollector(t, p, metrics.WithTimeout(20*time.Millisecond))
	p.FailNext(errors.New("boom"), fmt.Errorf("partial: %w", tcptable.ErrInconsistent))
	// A failed read: no table series, success 0, the error counted.
	want := scrapeStatus(map[string]int{"error": 1}, 0) + readsWant(1)
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(want), tableSeries...))
	// The mock's inconsistent fault returns no rows: nothing to export.
	assert.Equal(t, 0, testutil.CollectAndCount(c, "tcptable_connections"))

	p.SetLatency(time.Minute)
	want = scrapeStatus(map[string]int{"error": 1, "inconsistent": 1, "timeout": 1}, 0) + readsWant(3)
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(want), tableSeries...))

	// Reads work again once the read that timed out has ended (until
	// then a collect joins it).
	p.SetLatency(0)
	require.Eventually(t, func() bool { return testutil.CollectAndCount(c, "tcptable_connections") == 7 },
		30*time.Second, time.Millisecond, "reads work again")
}

// inconsistent answers a partial table with ErrInconsistent, as a provider
// whose retries did not produce a consistent snapshot does.
type inconsistent struct{ *mock.Provider }

func (p inconsistent) Table(ctx context.Context, q tcptable.Query) ([]tcptable.Connection, error) {
	rows, err := p.Provider.Table(ctx, q)
	if err != nil {
		return nil, err
	}
	return rows[:2], fmt.Errorf("mock: %w", tcptable.ErrInconsistent)
}

func TestInconsistentExportsPartialTable(t *testing.T) {
	c := newCollector(t, inconsistent{mock.New(fixture()...)})
	want := connectionsHeader + `tcptable_connections{family="ipv4",state="listen"} 1
tcptable_connections{family="ipv6",state="listen"} 1
` + scrapeStatus(map[string]int{"inconsistent": 1}, 1)
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(want),
		"tcptable_connections", "tcptable_scrape_errors_total", "tcptable_scrape_success"))
}

// The HELP and TYPE lines of series that several expected expositions
// show.
const (
	connectionsHeader = `# HELP tcptable_connections TCP endpoints (connections and listeners) by state and address family.
# TYPE tcptable_connections gauge
`
	listenerInfoHeader = `# HELP tcptable_listener_info Listening endpoints by local address, port and owning process (always 1), at most the configured number, lowest ports first.
# TYPE tcptable_listener_info gauge
`
	listenersOmittedHeader = `# HELP tcptable_listeners_omitted Distinct listening endpoints left out of tcptable_listener_info by its cap.
# TYPE tcptable_listeners_omitted gauge
`
	processHeader = `# HELP tcptable_process_connections TCP endpoints by owning process name and state: the top N processes by endpoints, the rest as process="other", ownerless endpoints as "[kernel]", "[hidden]" and "[unknown]".
# TYPE tcptable_process_connections gauge
`
)

// scrapeStatus is the expected exposition of tcptable_scrape_errors_total
// (errors by reason, the others 0) and tcptable_scrape_success.
func scrapeStatus(errors map[string]int, success int) string {
	s := `
# HELP tcptable_scrape_errors_total Scrapes whose table read failed, by reason: "timeout", "canceled", "inconsistent" (the table changed while read; the partial table is still exported) or "error".
# TYPE tcptable_scrape_errors_total counter
`
	for _, r := range []string{"canceled", "error", "inconsistent", "timeout"} {
		s += fmt.Sprintf("tcptable_scrape_errors_total{reason=%q} %d\n", r, errors[r])
	}
	return s + fmt.Sprintf(`# HELP tcptable_scrape_success Whether this scrape got a table (1) or not (0: the read failed or timed out, see tcptable_scrape_errors_total).
# TYPE tcptable_scrape_success gauge
tcptable_scrape_success %d
`, success)
}

// readsWant is the expected exposition of tcptable_scrape_table_reads_total.
func readsWant(n int) string {
	return fmt.Sprintf(`# HELP tcptable_scrape_table_reads_total Table reads; concurrent scrapes share one read.
# TYPE tcptable_scrape_table_reads_total counter
tcptable_scrape_table_reads_total %d
`, n)
}

func TestNilProvider(t *testing.T) {
	c := newCollector(t, nil)
	assert.Equal(t, float64(0), gather(t, c)["tcptable_scrape_success"])
}

// gather collects c once and returns every unlabelled series' value.
func gather(t *testing.T, c prometheus.Collector) map[string]float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(c))
	mfs, err := reg.Gather()
	require.NoError(t, err)
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) > 0 {
				continue
			}
			switch {
			case m.GetGauge() != nil:
				out[mf.GetName()] = m.GetGauge().GetValue()
			case m.GetCounter() != nil:
				out[mf.GetName()] = m.GetCounter().GetValue()
			}
		}
	}
	return out
}
