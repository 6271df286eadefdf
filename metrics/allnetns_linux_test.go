package metrics_test

import (
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/tcptable/tcptable/internal/netnstest"
	"github.com/tcptable/tcptable/metrics"
	"github.com/tcptable/tcptable/providers/linux"
)

// TestAllNetNSAgainstSS reads every namespace of the host with
// linux.WithAllNetNS and compares tcptable_netns_connections of two
// namespaces this test makes (each with its name) with what ss -tan
// reports inside each.
func TestAllNetNSAgainstSS(t *testing.T) {
	exe, err := os.Executable()
	require.NoError(t, err)
	nss := []*netnstest.NS{newNSWith(t, "a", exe, nsSpecs[0]), newNSWith(t, "b", exe, nsSpecs[1])}
	p, err := linux.New(linux.WithAllNetNS())
	require.NoError(t, err)
	defer p.Close()
	// Other tests may make namespaces meanwhile: room for all of them.
	c := newCollector(t, p, metrics.WithoutTrace(), metrics.WithTopNetNS(1000))

	// want returns the series of the test's namespaces as ss counts them.
	want := func() map[string]float64 {
		w := map[string]float64{}
		for _, ns := range nss {
			var st unix.Stat_t
			require.NoError(t, unix.Stat(ns.Path, &st))
			out, err := ns.Exec("ss", "-tanH").Output()
			require.NoError(t, err)
			rows, err := netnstest.ParseSS(out)
			require.NoError(t, err)
			for _, r := range rows {
				w[seriesName("tcptable_netns_connections", []string{
					"netns", strconv.FormatUint(st.Ino, 10), "netns_name", ns.Name, "state", metricsState(r.State)})]++
			}
		}
		return w
	}
	var w, got map[string]float64
	for range 5 { // the table may move between the reads; it settles
		w = want()
		s := series(t, c)
		got = map[string]float64{}
		for k, v := range only(s, "tcptable_netns_connections") {
			for _, ns := range nss {
				if containsLabel(k, "netns_name", ns.Name) {
					got[k] = v
				}
			}
		}
		if assert.ObjectsAreEqual(w, got) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	require.Equal(t, w, got, "tcptable_netns_connections and ss -tan in each namespace disagree")
	require.Len(t, w, 10, "five states in each namespace")

	// Bounded: with room for one namespace, the rest are "other".
	c1 := newCollector(t, p, metrics.WithoutTrace(), metrics.WithTopNetNS(1))
	s := only(series(t, c1), "tcptable_netns_connections")
	netns := map[string]bool{}
	for k := range s {
		netns[labelOf(k, "netns")] = true
	}
	assert.Len(t, netns, 2, "one namespace and other: %v", s)
	assert.True(t, netns["other"], "%v", s)
}
