package metrics_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/metrics"
	"github.com/tcptable/tcptable/providers/mock"
)

// newTracedMock returns a mock and a collector following its trace, once
// the trace is live.
func newTracedMock(t *testing.T, opts ...metrics.Option) (*mock.Provider, *metrics.Collector) {
	t.Helper()
	p := mock.New()
	c := newCollector(t, p, opts...)
	require.Eventually(t, func() bool { return gather(t, c)["tcptable_trace_up"] == 1 },
		30*time.Second, time.Millisecond, "the collector must follow the mock's trace")
	return p, c
}

// churnWant is the expected exposition of the opened and closed counters,
// given as "process opened closed" lines.
func churnWant(lines ...string) string {
	var closed, opened strings.Builder
	for _, l := range lines {
		f := strings.Fields(l)
		closed.WriteString(fmt.Sprintf("tcptable_process_connections_closed_total{process=%q} %s\n", f[0], f[2]))
		opened.WriteString(fmt.Sprintf("tcptable_process_connections_opened_total{process=%q} %s\n", f[0], f[1]))
	}
	return `
# HELP tcptable_process_connections_closed_total TCP connections closed, by the process the trace last saw holding them, else by the closing row's owner ([kernel] after TIME-WAIT).
# TYPE tcptable_process_connections_closed_total counter
` + closed.String() + `# HELP tcptable_process_connections_opened_total TCP connections opened (connect or accept), as the kernel trace reports them, by the connecting or accepting process (an accepted connection counts once a process owns it).
# TYPE tcptable_process_connections_opened_total counter
` + opened.String()
}

var churnCounters = []string{"tcptable_process_connections_opened_total", "tcptable_process_connections_closed_total"}

// TestMockTraceChurn: pairs the mock simulates (owned by this process)
// that open and close between two scrapes are counted, the TIME-WAIT end
// for the process that opened it; listeners are not.
func TestMockTraceChurn(t *testing.T) {
	p, c := newTracedMock(t)
	self, err := os.Executable()
	require.NoError(t, err)
	me := filepath.Base(self)

	l, err := p.Listen("tcp4")
	require.NoError(t, err)
	defer l.Close()
	for range 3 {
		pair, err := p.Dial("tcp4")
		require.NoError(t, err)
		require.NoError(t, pair.CloseActive()) // client to TIME-WAIT (the kernel's), server gone
		require.NoError(t, pair.Close())       // TIME-WAIT ends
	}
	pair, err := p.Dial("tcp6") // still open
	require.NoError(t, err)
	defer pair.Close()
	p.Flush()
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(churnWant(me+" 8 6")), churnCounters...))
	assert.Equal(t, float64(0), gather(t, c)["tcptable_trace_lost_events_total"])
	assert.Equal(t, map[string]float64{`tcptable_trace_source_info{source="mock"}`: 1}, only(series(t, c), "tcptable_trace_source_info"),
		"the source the mock's TraceReady names")
}

// TestMockTraceLoss: events the trace drops are counted as lost, not as
// opened or closed.
func TestMockTraceLoss(t *testing.T) {
	p, c := newTracedMock(t)
	p.LoseEvents(3)
	for range 2 {
		pair, err := p.Dial("tcp4") // 2 events each; the first 3 are lost
		require.NoError(t, err)
		defer pair.Close()
	}
	p.Flush()
	g := gather(t, c)
	assert.Equal(t, float64(3), g["tcptable_trace_lost_events_total"])
	me, _ := os.Executable()
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(churnWant(filepath.Base(me)+" 1 0")), churnCounters...))
}

// TestMockTraceNotSupported: a provider that may not trace here leaves
// tcptable_trace_up at 0 (it never was up) and no source, counts the
// failure once, does not retry, and logs why.
func TestMockTraceNotSupported(t *testing.T) {
	var log bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(&lockedWriter{w: &log, mu: &mu}, nil))
	p := mock.New()
	p.FailTrace(fmt.Errorf("mock: no BPF here (run as nobody): %w", tcptable.ErrNotSupported))
	c := newCollector(t, p, metrics.WithLogger(logger))
	require.Eventually(t, func() bool { return gather(t, c)["tcptable_trace_errors_total"] == 1 }, 30*time.Second, time.Millisecond)
	s := series(t, c)
	assert.Equal(t, float64(0), s["tcptable_trace_up"])
	assert.Empty(t, only(s, "tcptable_trace_source_info"))
	assert.Empty(t, only(s, "tcptable_process_connections_opened_total"))
	assert.Equal(t, 0, p.Traces())
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return log.Len() > 0
	}, 30*time.Second, time.Millisecond, "the collector must say why")
	mu.Lock()
	defer mu.Unlock()
	assert.Regexp(t, `level=WARN msg="tcptable metrics: tracing not available; per-process opened and closed counters stay empty" err=".*no BPF here \(run as nobody\)`, log.String())
	assert.Equal(t, 1, strings.Count(log.String(), "\n"), "said once: %s", log.String())
}

// TestMockTraceEndsAndResumes: a trace that breaks is counted and started
// again, and the counters go on from where they were.
func TestMockTraceEndsAndResumes(t *testing.T) {
	p, c := newTracedMock(t)
	a, err := p.Dial("tcp4")
	require.NoError(t, err)
	defer a.Close()
	p.Flush()
	p.EndTraces(errors.New("mock: ring buffer broke"))
	require.Eventually(t, func() bool {
		g := gather(t, c)
		return g["tcptable_trace_errors_total"] == 1 && g["tcptable_trace_up"] == 1 && p.Traces() == 1
	}, 30*time.Second, 10*time.Millisecond, "the trace must be started again")
	b, err := p.Dial("tcp4")
	require.NoError(t, err)
	defer b.Close()
	p.Flush()
	me, _ := os.Executable()
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(churnWant(filepath.Base(me)+" 4 0")), churnCounters...))
}

// TestMockTraceProviderClosed: closing the provider ends the trace for
// good, saying so, instead of retrying against a closed provider.
func TestMockTraceProviderClosed(t *testing.T) {
	var log bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(&lockedWriter{w: &log, mu: &mu}, nil))
	p, c := newTracedMock(t, metrics.WithLogger(logger))
	require.NoError(t, p.Close())
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return strings.Contains(log.String(), "the provider was closed; tracing ends")
	}, 30*time.Second, time.Millisecond)
	g := gather(t, c)
	assert.Equal(t, float64(0), g["tcptable_trace_up"])
	assert.Equal(t, float64(1), g["tcptable_trace_errors_total"])
}
