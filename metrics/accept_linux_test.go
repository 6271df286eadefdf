package metrics_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcptable/tcptable/internal/netnstest"
	"github.com/tcptable/tcptable/internal/testenv"
	"github.com/tcptable/tcptable/metrics"
	"github.com/tcptable/tcptable/providers/linux"
)

// envAccept makes the test binary a server (acceptMain): its value is
// "N K", accept N connections and send K bytes on each.
const envAccept = "TCPTABLE_METRICS_TEST_ACCEPT"

// acceptorName is the name the server runs under (a copy of the test
// binary), so that its series are told apart from the test's own.
const acceptorName = "tcpt-acceptor"

// acceptMain listens on 127.0.0.1, prints its port, accepts N connections,
// sends K bytes on each, prints "accepted", and holds them until stdin
// closes.
func acceptMain() int {
	var n, k int
	if _, err := fmt.Sscan(os.Getenv(envAccept), &n, &k); err != nil {
		fmt.Fprintf(os.Stderr, "%s=%q: %v\n", envAccept, os.Getenv(envAccept), err)
		return 2
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer ln.Close()
	fmt.Println(ln.Addr().(*net.TCPAddr).Port)
	buf := make([]byte, k)
	for range n {
		c, err := ln.Accept()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer c.Close()
		if _, err := c.Write(buf); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	fmt.Println("accepted")
	io.Copy(io.Discard, os.Stdin)
	return 0
}

// acceptor is a server process (acceptMain) in a namespace.
type acceptor struct {
	port  string
	lines *bufio.Scanner
}

// startAcceptor starts a server, named acceptorName, in ns that accepts
// n connections and sends k bytes on each; the test's cleanup stops it.
func startAcceptor(t *testing.T, ns *netnstest.NS, n, k int) *acceptor {
	t.Helper()
	self, err := os.Executable()
	require.NoError(t, err)
	b, err := os.ReadFile(self)
	require.NoError(t, err)
	exe := filepath.Join(t.TempDir(), acceptorName)
	require.NoError(t, os.WriteFile(exe, b, 0o755))
	cmd := ns.Exec(exe)
	stdin, stdout, err := netnstest.StartPiped(cmd, fmt.Sprintf("%s=%d %d", envAccept, n, k))
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, netnstest.Stop(cmd, stdin), "the acceptor") })
	a := &acceptor{lines: bufio.NewScanner(stdout)}
	require.True(t, a.lines.Scan(), "the acceptor printed no port")
	a.port = a.lines.Text()
	return a
}

// dial connects n times to the acceptor from this process, inside ns,
// reads k bytes from each, and waits until the acceptor says it accepted
// them all.
func (a *acceptor) dial(t *testing.T, ns *netnstest.NS, n, k int) {
	t.Helper()
	var conns []net.Conn
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	require.NoError(t, ns.Do(func() error {
		for range n {
			c, err := net.Dial("tcp4", "127.0.0.1:"+a.port)
			if err != nil {
				return err
			}
			conns = append(conns, c)
		}
		return nil
	}))
	buf := make([]byte, k)
	for _, c := range conns {
		_, err := io.ReadFull(c, buf)
		require.NoError(t, err)
	}
	require.True(t, a.lines.Scan(), "the acceptor ended early")
	require.Equal(t, "accepted", a.lines.Text())
}

// tracedNS returns a namespace and a collector over the Linux provider
// of it, following its kernel trace, or skips.
func tracedNS(t *testing.T, suffix string) (*netnstest.NS, *metrics.Collector) {
	t.Helper()
	testenv.MustBeRoot(t, "to make a network namespace and trace its kernel events")
	ns := netnstest.NewForTest(t, "tcptable-metrics-"+suffix)
	p, err := linux.New(linux.WithNetNS(ns.Path))
	require.NoError(t, err)
	t.Cleanup(func() { p.Close() })
	if src, why := p.TraceSource(); src != linux.TraceBPF {
		testenv.SkipOrFail(t, "no BPF trace here (%v): the accept's owner change comes from it", why)
	}
	c := newCollector(t, p)
	require.Eventually(t, func() bool { return gather(t, c)["tcptable_trace_up"] == 1 },
		30*time.Second, 10*time.Millisecond, "the collector must follow the kernel trace")
	return ns, c
}

// processSeries is the text of a per-process series of process name.
func processSeries(metric, name string) string {
	return seriesName(metric, []string{"process", name})
}

// TestAcceptedOpensRealOS: a server accepts N loopback connections while
// the collector traces the kernel; the accepted connections, born in the
// accept queue with no owner, count as opened for the server, not for
// [kernel], and the connecting process counts its N.
func TestAcceptedOpensRealOS(t *testing.T) {
	const n = 20
	ns, c := tracedNS(t, "accept")
	before := series(t, c)
	a := startAcceptor(t, ns, n, 0)
	a.dial(t, ns, n, 0)

	opened := "tcptable_process_connections_opened_total"
	var s map[string]float64
	ok := assert.Eventually(t, func() bool {
		s = series(t, c)
		return s[processSeries(opened, acceptorName)] >= n
	}, 30*time.Second, 20*time.Millisecond)
	assert.Equal(t, float64(n), s[processSeries(opened, acceptorName)], "the accepted connections, for the server: %v", only(s, opened))
	self, err := os.Executable()
	require.NoError(t, err)
	assert.Equal(t, float64(n), s[processSeries(opened, filepath.Base(self))], "the connecting side: %v", only(s, opened))
	assert.Equal(t, before[processSeries(opened, "[kernel]")], s[processSeries(opened, "[kernel]")],
		"no accepted connection may count for [kernel] (ok=%v): %v", ok, only(s, opened))
	assert.Zero(t, s[`tcptable_trace_opens_unattributed_total{reason="timeout"}`])
	assert.Zero(t, s[`tcptable_trace_opens_unattributed_total{reason="overflow"}`])
	assert.Zero(t, s["tcptable_trace_lost_events_total"])
}

// TestBytesRealOS: a server sends K bytes on each of N loopback
// connections; the byte counters of the server (sent) and of this process
// (received) rise by at least N*K.
func TestBytesRealOS(t *testing.T) {
	const n, k = 3, 100_000
	ns, c := tracedNS(t, "bytes")
	before := series(t, c) // the baseline read
	a := startAcceptor(t, ns, n, k)
	a.dial(t, ns, n, k)
	after := series(t, c)
	self, err := os.Executable()
	require.NoError(t, err)
	sent := processSeries("tcptable_process_sent_bytes_total", acceptorName)
	received := processSeries("tcptable_process_received_bytes_total", filepath.Base(self))
	assert.GreaterOrEqual(t, after[sent]-before[sent], float64(n*k), "%v", only(after, "tcptable_process_"))
	assert.GreaterOrEqual(t, after[received]-before[received], float64(n*k), "%v", only(after, "tcptable_process_"))
	// Nothing else moved in the namespace and nothing is counted twice:
	// the counter stays within what was sent plus what was sent again
	// (BytesSent counts retransmissions; a loopback segment is at most
	// 64 KiB).
	retrans := processSeries("tcptable_process_retransmitted_segments_total", acceptorName)
	slack := (after[retrans] - before[retrans]) * 65536
	assert.LessOrEqual(t, after[sent]-before[sent], float64(n*k)+slack, "sent %d, then %v", n*k, only(after, "tcptable_process_"))
	assert.False(t, strings.Contains(fmt.Sprint(only(after, "tcptable_process_sent")), "[kernel]"), "no bytes are the kernel's")
}
