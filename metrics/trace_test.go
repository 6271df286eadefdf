package metrics_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
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

// scriptedTracer is a provider (a mock's table) with a plain Tracer whose
// events the test writes: each batch sent with emit reaches the trace
// callback in order, and emit returns once the callback has taken all of
// it. Each Trace call first returns the next of fails, if any. It hides
// the mock's own trace (a ReadyTracer).
type scriptedTracer struct {
	tcptable.Provider
	m       *mock.Provider
	batches chan []tcptable.Event
	taken   chan struct{}

	mu     sync.Mutex
	fails  []error
	calls  int
	ctxErr error // what the last Trace's context ended with
}

func newScriptedTracer(fails ...error) *scriptedTracer {
	m := mock.New()
	return &scriptedTracer{Provider: m, m: m, batches: make(chan []tcptable.Event), taken: make(chan struct{}), fails: fails}
}

func (s *scriptedTracer) Trace(ctx context.Context, q tcptable.Query, fn func(tcptable.Event) error) error {
	s.mu.Lock()
	s.calls++
	var fail error
	if len(s.fails) > 0 {
		fail, s.fails = s.fails[0], s.fails[1:]
	}
	s.mu.Unlock()
	if fail != nil {
		return fail
	}
	for {
		select {
		case <-ctx.Done():
			s.mu.Lock()
			s.ctxErr = ctx.Err()
			s.mu.Unlock()
			return fmt.Errorf("scripted trace: %w", ctx.Err())
		case b := <-s.batches:
			for _, e := range b {
				if !q.Match(*e.Row()) && e.Kind != tcptable.EventLost {
					continue
				}
				if err := fn(e); err != nil {
					return err
				}
			}
			s.taken <- struct{}{}
		}
	}
}

// emit hands events to the running trace and waits until they are counted.
func (s *scriptedTracer) emit(t *testing.T, events ...tcptable.Event) {
	t.Helper()
	select {
	case s.batches <- events:
		<-s.taken
	case <-time.After(30 * time.Second):
		t.Fatal("the collector does not follow the trace")
	}
}

func (s *scriptedTracer) callCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

func opened(c tcptable.Connection) tcptable.Event {
	return tcptable.Event{Kind: tcptable.EventOpened, Key: c.Key(), After: c}
}

func closed(c tcptable.Connection) tcptable.Event {
	return tcptable.Event{Kind: tcptable.EventClosed, Key: c.Key(), Before: c}
}

// client is a connection of process name from local port lp.
func client(lp uint16, name string) tcptable.Connection {
	return tcptable.Connection{State: tcptable.StateEstablished, Local: ap(fmt.Sprintf("127.0.0.1:%d", lp)),
		Remote: ap("127.0.0.1:80"), PID: uint32(lp), Module: tcptable.Module{Name: name}, OwnerStatus: tcptable.OwnerOK}
}

// kernelOwned is c after it passed into TIME-WAIT.
func kernelOwned(c tcptable.Connection) tcptable.Connection {
	c.State, c.PID, c.Module = tcptable.StateTimeWait, 0, tcptable.Module{}
	c.OwnerStatus, c.ModuleStatus = tcptable.OwnerKernel, tcptable.OwnerKernel
	return c
}

var churnSeries = []string{
	"tcptable_process_connections_opened_total", "tcptable_process_connections_closed_total",
	"tcptable_trace_up", "tcptable_trace_errors_total", "tcptable_trace_lost_events_total",
}

func TestTraceCounts(t *testing.T) {
	tr := newScriptedTracer()
	c := newCollector(t, tr, metrics.WithTopProcesses(2))
	a1, a2, b1, x1 := client(1001, "app"), client(1002, "app"), client(2001, "batch"), client(3001, "extra")
	tr.emit(t,
		opened(a1), opened(a2), opened(b1),
		closed(kernelOwned(a1)), // after TIME-WAIT: counted for app, which opened it
		closed(a2),
		opened(x1), closed(x1), // a third process: no slot left, counted in other
		closed(kernelOwned(client(4001, "old"))), // opened before the trace began
		tcptable.Event{Kind: tcptable.EventLost, Lost: 5},
		tcptable.Event{Kind: tcptable.EventLost}, // an unknown number: at least one
		// A listener is not a connection: not counted.
		opened(tcptable.Connection{State: tcptable.StateListen, Local: ap("0.0.0.0:80"), Remote: ap("0.0.0.0:0"), PID: 9, Module: tcptable.Module{Name: "app"}}),
	)
	want := churnWant("[kernel] 0 1", "app 2 2", "batch 1 0", "other 1 1") + `
# HELP tcptable_trace_errors_total Kernel traces that ended with an error (each is retried, unless tracing is not supported).
# TYPE tcptable_trace_errors_total counter
tcptable_trace_errors_total 0
# HELP tcptable_trace_lost_events_total Trace events the OS or provider dropped (at least one per loss reported without a count); the opened and closed counters miss them.
# TYPE tcptable_trace_lost_events_total counter
tcptable_trace_lost_events_total 6
# HELP tcptable_trace_up Whether the kernel trace behind the opened and closed counters is running (1) or not (0).
# TYPE tcptable_trace_up gauge
tcptable_trace_up 1
`
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(want), churnSeries...))

	// Counters only grow: more events add to the same series.
	tr.emit(t, opened(client(1003, "app")))
	want = strings.Replace(want, `opened_total{process="app"} 2`, `opened_total{process="app"} 3`, 1)
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(want), churnSeries...))

	require.NoError(t, c.Close())
	assert.ErrorIs(t, tr.ctxErr, context.Canceled, "Close must end the trace")
	assert.Equal(t, 1, tr.callCount())
}

// TestTraceBytesAtClose: a close with final counters adds what moved since
// the last read, for the process the read showed, and a connection born
// and closed between reads adds everything it moved.
func TestTraceBytesAtClose(t *testing.T) {
	tr := newScriptedTracer()
	a := client(1001, "app")
	a.Stats = &tcptable.Stats{BytesSent: 100, BytesReceived: 1000}
	tr.m.Add(a)
	c := newCollector(t, tr)
	testutil.CollectAndCount(c) // baseline
	final := kernelOwned(a)
	final.OwnerStatus, final.ModuleStatus = tcptable.OwnerUnknown, tcptable.OwnerUnknown // a close the OS reports without owner
	final.Stats = &tcptable.Stats{BytesSent: 130, BytesReceived: 1100}
	short := client(1002, "app")
	short.Stats = &tcptable.Stats{BytesSent: 5, BytesReceived: 6}
	tr.m.Remove(a.Key())
	tr.emit(t, closed(final), opened(short), closed(short))
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(bytesWant("app 35 106")), byteSeries...))
}

func TestTraceNotSupported(t *testing.T) {
	tr := newScriptedTracer(fmt.Errorf("scripted: no BPF: %w", tcptable.ErrNotSupported))
	var log bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(&lockedWriter{w: &log, mu: &mu}, nil))
	c := newCollector(t, tr, metrics.WithLogger(logger))
	require.Eventually(t, func() bool {
		return gather(t, c)["tcptable_trace_errors_total"] == 1
	}, 30*time.Second, 10*time.Millisecond)
	assert.Equal(t, float64(0), gather(t, c)["tcptable_trace_up"])
	require.NoError(t, c.Close())
	assert.Equal(t, 1, tr.callCount(), "a trace that is not supported is not retried")
	mu.Lock()
	assert.Contains(t, log.String(), "tracing not available")
	assert.Contains(t, log.String(), "no BPF")
	mu.Unlock()
}

func TestTraceRetries(t *testing.T) {
	tr := newScriptedTracer(errors.New("scripted: ring buffer broke"))
	c := newCollector(t, tr)
	// The retry comes after a second; then the trace runs.
	tr.emit(t, opened(client(1001, "app")))
	assert.Equal(t, 2, tr.callCount())
	g := gather(t, c)
	assert.Equal(t, float64(1), g["tcptable_trace_errors_total"])
	assert.Equal(t, float64(1), g["tcptable_trace_up"])
	assert.Equal(t, map[string]float64{`tcptable_trace_source_info{source="unknown"}`: 1}, only(series(t, c), "tcptable_trace_source_info"),
		"a plain Tracer names no source")
}

func TestWithoutTrace(t *testing.T) {
	tr := newScriptedTracer()
	c := newCollector(t, tr, metrics.WithoutTrace())
	assert.Equal(t, 0, testutil.CollectAndCount(c, churnSeries...))
	require.NoError(t, c.Close())
	assert.Equal(t, 0, tr.callCount())
	// Without a Tracer, no trace series either.
	plain := struct{ tcptable.Provider }{mock.New()} // only the Provider methods
	assert.Equal(t, 0, testutil.CollectAndCount(newCollector(t, plain), churnSeries...))
}

// lockedWriter serialises writes to w.
type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// TestTraceOwnerChange: a connection handed to another process (fork,
// SCM_RIGHTS) closes for the process that held it last; a hand-over to
// the kernel (TIME-WAIT) does not change that.
func TestTraceOwnerChange(t *testing.T) {
	tr := newScriptedTracer()
	c := newCollector(t, tr)
	a := client(1001, "accepter")
	w := a
	w.PID, w.Module = 2002, tcptable.Module{Name: "worker"}
	tr.emit(t,
		opened(a),
		tcptable.Event{Kind: tcptable.EventOwnerChanged, Key: a.Key(), Before: a, After: w},
		tcptable.Event{Kind: tcptable.EventOwnerChanged, Key: a.Key(), Before: w, After: kernelOwned(a)},
		closed(kernelOwned(a)),
	)
	want := `
# HELP tcptable_process_connections_closed_total TCP connections closed, by the process the trace last saw holding them, else by the closing row's owner ([kernel] after TIME-WAIT).
# TYPE tcptable_process_connections_closed_total counter
tcptable_process_connections_closed_total{process="accepter"} 0
tcptable_process_connections_closed_total{process="worker"} 1
`
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(want), "tcptable_process_connections_closed_total"))
}
