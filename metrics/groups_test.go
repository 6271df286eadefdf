package metrics_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/metrics"
	"github.com/tcptable/tcptable/providers/mock"
)

// inNS returns c in namespace ino, named name, of container ctr.
func inNS(c tcptable.Connection, ino uint64, name, ctr string) tcptable.Connection {
	c.NetNS, c.NetNSName, c.Container = ino, name, ctr
	return c
}

// nsFixture is a container host's table across namespaces: the host's
// (named nothing), two named ones with containers, a small one whose name
// holds control bytes, and a row of no known namespace.
func nsFixture() []tcptable.Connection {
	est := func(local, name string) tcptable.Connection {
		return conn(local, "10.0.0.1:443", name, 0, 1, 1)
	}
	lst := func(local, name string) tcptable.Connection {
		return tcptable.Connection{State: tcptable.StateListen, Local: ap(local), PID: 3, Module: tcptable.Module{Name: name}}
	}
	const web = "4f1c0a3d5e6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d"
	return []tcptable.Connection{
		inNS(lst("0.0.0.0:22", "sshd"), 4026531840, "", ""),
		inNS(est("10.0.0.5:40000", "curl"), 4026531840, "", ""),
		inNS(est("10.0.0.5:40001", "curl"), 4026531840, "", ""),
		inNS(lst("0.0.0.0:80", "nginx"), 4026532300, "web", web),
		inNS(est("172.17.0.2:80", "nginx"), 4026532300, "web", web),
		inNS(est("172.17.0.2:81", "nginx"), 4026532300, "web", web),
		inNS(est("172.17.0.2:82", "nginx"), 4026532300, "web", web),
		inNS(lst("0.0.0.0:5432", "postgres"), 4026532400, "db", "pod1234abcd-5678"),
		inNS(est("172.17.0.3:5432", "postgres"), 4026532400, "db", "pod1234abcd-5678"),
		inNS(lst("0.0.0.0:9", "discard"), 4026532500, "evil\x1b[2J", "other"),
		{State: tcptable.StateTimeWait, Local: ap("10.0.0.5:40002"), Remote: ap("10.0.0.1:443"), OwnerStatus: tcptable.OwnerKernel},
	}
}

const nsHeader = `
# HELP tcptable_netns_connections TCP endpoints by network namespace (inode, and name under /run/netns if any) and state: the top N namespaces by endpoints, the rest as netns="other", endpoints of no known namespace as "[unknown]".
# TYPE tcptable_netns_connections gauge
`

const containerHeader = `
# HELP tcptable_container_connections TCP endpoints by the owning process's container and state: the top N containers by endpoints, the rest as container="other", endpoints of no container as "[none]"; only in scrapes where some endpoint is a container's.
# TYPE tcptable_container_connections gauge
`

// TestNetNSSeries: the busiest namespaces by endpoints have series of
// their own, with their names; the rest are "other", rows of no namespace
// "[unknown]"; a hostile name is quoted; the bound holds.
func TestNetNSSeries(t *testing.T) {
	c := newCollector(t, mock.New(nsFixture()...), metrics.WithTopNetNS(2))
	want := nsHeader + `tcptable_netns_connections{netns="4026531840",netns_name="",state="established"} 2
tcptable_netns_connections{netns="4026531840",netns_name="",state="listen"} 1
tcptable_netns_connections{netns="4026532300",netns_name="web",state="established"} 3
tcptable_netns_connections{netns="4026532300",netns_name="web",state="listen"} 1
tcptable_netns_connections{netns="[unknown]",netns_name="",state="time_wait"} 1
tcptable_netns_connections{netns="other",netns_name="",state="established"} 1
tcptable_netns_connections{netns="other",netns_name="",state="listen"} 2
`
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(want), "tcptable_netns_connections"))

	c = newCollector(t, mock.New(nsFixture()...))
	s := series(t, c)
	assert.Equal(t, float64(1), s[`tcptable_netns_connections{netns="4026532500",netns_name="`+strconv.Quote("evil\x1b[2J")+`",state="listen"}`],
		"a name with control bytes is quoted: %v", only(s, "tcptable_netns_connections"))
	assert.Len(t, only(s, "tcptable_netns_connections"), 8, "every namespace fits in the default top 10")

	problems, err := testutil.CollectAndLint(c)
	require.NoError(t, err)
	assert.Empty(t, problems)
}

// TestContainerSeries: the busiest containers by endpoints have series of
// their own; the rest are "other", rows of no container "[none]"; a
// container ID equal to a bucket's value is quoted.
func TestContainerSeries(t *testing.T) {
	c := newCollector(t, mock.New(nsFixture()...), metrics.WithTopContainers(2))
	want := containerHeader + `tcptable_container_connections{container="4f1c0a3d5e6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d",state="established"} 3
tcptable_container_connections{container="4f1c0a3d5e6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d",state="listen"} 1
tcptable_container_connections{container="[none]",state="established"} 2
tcptable_container_connections{container="[none]",state="listen"} 1
tcptable_container_connections{container="[none]",state="time_wait"} 1
tcptable_container_connections{container="other",state="listen"} 1
tcptable_container_connections{container="pod1234abcd-5678",state="established"} 1
tcptable_container_connections{container="pod1234abcd-5678",state="listen"} 1
`
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(want), "tcptable_container_connections"))

	s := series(t, newCollector(t, mock.New(nsFixture()...), metrics.WithTopContainers(5)))
	assert.Equal(t, float64(1), s[`tcptable_container_connections{container=""other"",state="listen"}`],
		"a container named like the bucket is quoted: %v", only(s, "tcptable_container_connections"))
}

// TestGroupSeriesAbsent: no per-namespace series where no row carries a
// namespace, none per container where no row names one, none of either
// when turned off.
func TestGroupSeriesAbsent(t *testing.T) {
	c := newCollector(t, mock.New(fixture()...))
	assert.Zero(t, testutil.CollectAndCount(c, "tcptable_netns_connections", "tcptable_container_connections"))
	c = newCollector(t, mock.New(nsFixture()...), metrics.WithTopNetNS(0), metrics.WithTopContainers(0))
	assert.Zero(t, testutil.CollectAndCount(c, "tcptable_netns_connections", "tcptable_container_connections"))
	c = newCollector(t, mock.New(nsFixture()...), metrics.WithTopNetNS(0), metrics.WithTopContainers(-1))
	assert.Positive(t, testutil.CollectAndCount(c, "tcptable_container_connections"), "negative is the default")
}

// TestStatsUnavailable counts the rows without statistics by the reason
// their StatsStatus gives, only when statistics are asked for.
func TestStatsUnavailable(t *testing.T) {
	rows := fixture() // no Stats: the mock says StatsNotAvailable
	rows[0].StatsStatus = tcptable.StatsPermissionDenied
	rows[1].StatsStatus = tcptable.StatsPermissionDenied
	rows[2].StatsStatus = tcptable.StatsNotSupported
	rows[3].StatsStatus = tcptable.StatsNotRequested // a provider's mistake: unknown
	rows[4].Stats, rows[4].StatsStatus = &tcptable.Stats{BytesSent: 1}, tcptable.StatsOK
	rows[5].Stats, rows[5].StatsStatus = &tcptable.Stats{BytesSent: 1}, tcptable.StatsPartial
	want := `
# HELP tcptable_stats_unavailable TCP endpoints in this scrape without per-connection statistics, which the byte counters therefore do not follow, by reason: "not_available" (the OS keeps none for the endpoint, as for TIME-WAIT and pending connections), "permission_denied", "not_supported" or "unknown".
# TYPE tcptable_stats_unavailable gauge
tcptable_stats_unavailable{reason="not_available"} 5
tcptable_stats_unavailable{reason="not_supported"} 1
tcptable_stats_unavailable{reason="permission_denied"} 2
tcptable_stats_unavailable{reason="unknown"} 1
`
	c := newCollector(t, mock.New(rows...))
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(want), "tcptable_stats_unavailable"))
	c = newCollector(t, mock.New(rows...), metrics.WithoutStats())
	assert.Zero(t, testutil.CollectAndCount(c, "tcptable_stats_unavailable"), "statistics not asked for: nothing is missing")
}
