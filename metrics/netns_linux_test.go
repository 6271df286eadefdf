package metrics_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/internal/netnstest"
	"github.com/tcptable/tcptable/metrics"
	"github.com/tcptable/tcptable/providers/linux"
)

// envDump makes the test binary print, as JSON, the series of a collector
// over the Linux provider of its own namespace, and exit: the unprivileged
// test runs it as nobody.
const envDump = "TCPTABLE_METRICS_TEST_DUMP"

func TestMain(m *testing.M) {
	netnstest.RunChildIfRequested()
	if os.Getenv(envDump) != "" {
		os.Exit(dumpMain())
	}
	if os.Getenv(envAccept) != "" {
		os.Exit(acceptMain())
	}
	os.Exit(m.Run())
}

func dumpMain() int {
	return netnstest.DumpMain(func() (any, error) {
		p, err := linux.New()
		if err != nil {
			return nil, err
		}
		defer p.Close()
		c := metrics.NewCollector(p, metrics.WithoutTrace(), metrics.WithMaxListeners(1000))
		defer c.Close()
		return series(dumpTB{}, c), nil
	})
}

// dumpTB lets dumpMain use series: it fails by exiting.
type dumpTB struct{ testing.TB }

func (dumpTB) Helper() {}
func (dumpTB) Fatal(args ...any) {
	fmt.Fprintln(os.Stderr, args...)
	os.Exit(1)
}

// nsSpecs are the children's sockets: listeners, established pairs,
// half-closed pairs (FIN-WAIT-2 and CLOSE-WAIT) and TIME-WAIT rows over
// IPv4 and IPv6, one listener shared with a grandchild.
var nsSpecs = []netnstest.Spec{
	{Listeners: 12, Established: 40, HalfClosed: 10, TimeWait: 10, Share: true},
	{Listeners: 5, Established: 15, HalfClosed: 3, TimeWait: 4, IPv4Only: true},
}

// newNS makes a namespace whose sockets the children of nsSpecs hold, or
// skips.
func newNS(t *testing.T, exe string) *netnstest.NS {
	return newNSWith(t, "", exe, nsSpecs...)
}

// newNSWith makes namespace tcptable-metrics[-suffix]-PID whose sockets
// children of exe building specs hold, or skips.
func newNSWith(t *testing.T, suffix, exe string, specs ...netnstest.Spec) *netnstest.NS {
	t.Helper()
	if suffix != "" {
		suffix = "-" + suffix
	}
	ns := netnstest.NewForTest(t, "tcptable-metrics"+suffix)
	for _, spec := range specs {
		c, err := netnstest.Start(ns, exe, spec, false, time.Minute)
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
	}
	return ns
}

// ssSeries runs ss -tanpH in ns and derives from it what the collector
// must export: tcptable_connections by state and family, and
// tcptable_process_connections with every owned row under name (the
// children all run this test binary) and the rest under ownerless.
func ssSeries(t *testing.T, ns *netnstest.NS, name, ownerless string) map[string]float64 {
	t.Helper()
	out, err := ns.Exec("ss", "-tanpH").Output()
	require.NoError(t, err)
	rows, err := netnstest.ParseSS(out)
	require.NoError(t, err)
	want := map[string]float64{}
	for _, r := range rows {
		fam := "ipv6"
		if r.Local.Addr().Is4() {
			fam = "ipv4"
		}
		st := metricsState(r.State)
		want[seriesName("tcptable_connections", []string{"state", st, "family", fam})]++
		proc := ownerless
		if len(r.PIDs) > 0 {
			proc = name
		}
		want[seriesName("tcptable_process_connections", []string{"process", proc, "state", st})]++
	}
	return want
}

// metricsState spells s as the state label does, written out here
// independently of the package's own mapping.
func metricsState(s tcptable.State) string {
	return map[tcptable.State]string{
		tcptable.StateListen: "listen", tcptable.StateEstablished: "established",
		tcptable.StateFinWait1: "fin_wait_1", tcptable.StateFinWait2: "fin_wait_2",
		tcptable.StateCloseWait: "close_wait", tcptable.StateTimeWait: "time_wait",
		tcptable.StateSynSent: "syn_sent", tcptable.StateSynReceived: "syn_received",
		tcptable.StateLastAck: "last_ack", tcptable.StateClosing: "closing", tcptable.StateClosed: "closed",
	}[s]
}

// TestNetNSAgainstSS compares the collector over the Linux provider of a
// namespace with what ss reports there.
func TestNetNSAgainstSS(t *testing.T) {
	exe, err := os.Executable()
	require.NoError(t, err)
	ns := newNS(t, exe)
	p, err := linux.New(linux.WithNetNS(ns.Path))
	require.NoError(t, err)
	defer p.Close()
	c := newCollector(t, p, metrics.WithoutTrace(), metrics.WithMaxListeners(1000))

	name := filepath.Base(exe)
	var want, got map[string]float64
	for range 5 { // the table may move between the two reads; it settles
		want = ssSeries(t, ns, name, "[kernel]")
		s := series(t, c)
		got = only(s, "tcptable_connections")
		for k, v := range only(s, "tcptable_process_connections") {
			got[k] = v
		}
		if assert.ObjectsAreEqual(want, got) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	require.Equal(t, want, got, "the collector and ss -tanp disagree")
	s := series(t, c)
	assert.Equal(t, sum(want, "tcptable_connections{"), s["tcptable_scrape_rows"])
	assert.Equal(t, float64(0), s["tcptable_owners_hidden"], "root sees every owner")
	assert.Equal(t, float64(1), s["tcptable_scrape_success"])
	listeners := nsSpecs[0].Listeners + nsSpecs[1].Listeners + 2 + 1 // the extra ones and those pairs were accepted on
	assert.Len(t, only(s, "tcptable_listener_info"), listeners)
	for k := range only(s, "tcptable_listener_info") {
		assert.Contains(t, k, `process="`+name+`"`)
	}
}

// TestNetNSUnprivileged runs the collector as nobody in the namespace,
// where root's children hold every socket: it must work, count every
// owned row as hidden, and put those rows under process="[hidden]".
func TestNetNSUnprivileged(t *testing.T) {
	nobody := netnstest.NewNobodyExe(t)
	ns := newNS(t, nobody.Path)

	var want, got map[string]float64
	for range 5 {
		want = ssSeries(t, ns, "[hidden]", "[kernel]")
		cmd := nobody.Command(ns)
		cmd.Env = append(os.Environ(), envDump+"=1")
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		require.NoError(t, err, "the collector must work as nobody")
		var s map[string]float64
		require.NoError(t, json.Unmarshal(out, &s))
		got = only(s, "tcptable_connections")
		for k, v := range only(s, "tcptable_process_connections") {
			got[k] = v
		}
		hidden := sum(want, `tcptable_process_connections{process="[hidden]",`)
		if assert.ObjectsAreEqual(want, got) {
			require.Positive(t, hidden)
			assert.Equal(t, hidden, s["tcptable_owners_hidden"], "every owned row is hidden from nobody")
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	require.Equal(t, want, got, "the collector as nobody and ss -tanp disagree")
}

// sum adds the values of the series whose text starts with prefix.
func sum(s map[string]float64, prefix string) float64 {
	n := 0.0
	for k, v := range s {
		if strings.HasPrefix(k, prefix) {
			n += v
		}
	}
	return n
}
