package metrics_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/metrics"
)

// testClock is a clock the test moves.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// accepted is a connection a server's listener on :80 took into its accept
// queue from port rp: owned by the kernel until accepted.
func accepted(rp uint16) tcptable.Connection {
	c := tcptable.Connection{State: tcptable.StateEstablished, Local: ap("127.0.0.1:80"),
		Remote: ap(fmt.Sprintf("127.0.0.1:%d", rp))}
	c.OwnerStatus, c.ModuleStatus = tcptable.OwnerKernel, tcptable.OwnerKernel
	return c
}

// acceptedBy is c once process name (PID pid) accepted it.
func acceptedBy(c tcptable.Connection, pid uint32, name string) tcptable.Connection {
	c.PID, c.Module = pid, tcptable.Module{Name: name}
	c.OwnerStatus, c.ModuleStatus = tcptable.OwnerOK, tcptable.OwnerOK
	return c
}

func ownerChanged(before, after tcptable.Connection) tcptable.Event {
	return tcptable.Event{Kind: tcptable.EventOwnerChanged, Key: after.Key(), Before: before, After: after}
}

// unattributedWant is the exposition of the unattributed opens.
func unattributedWant(timeout, overflow int) string {
	return fmt.Sprintf(`
# HELP tcptable_trace_opens_unattributed_total Traced connections opened owned by the kernel (as an accepted connection is, in its listener's accept queue) that were counted for [kernel] instead of the process that came to own them, by reason: "timeout" (no process owned it within %s) or "overflow" (%d opens were already waiting for their owner).
# TYPE tcptable_trace_opens_unattributed_total counter
tcptable_trace_opens_unattributed_total{reason="overflow"} %d
tcptable_trace_opens_unattributed_total{reason="timeout"} %d
`, metrics.OpenHold, metrics.MaxHeldOpens, overflow, timeout)
}

// TestTraceAcceptedOpens: a connection opened in a listener's accept queue
// (owned by the kernel) counts as opened for the process that accepts it,
// once, however its owner changes later; one closed before any process
// owned it counts for the closing row's owner; one nobody accepts within
// the hold counts for [kernel], as unattributed, and an owner found after
// that does not count it again. A hidden owner is not waited for.
func TestTraceAcceptedOpens(t *testing.T) {
	clock := &testClock{now: time.Unix(1e9, 0)}
	tr := newScriptedTracer()
	c := newCollector(t, tr, metrics.WithClock(clock.Now))
	a, b, d, late := accepted(5001), accepted(5002), accepted(5003), accepted(5004)
	hidden := accepted(5005)
	hidden.OwnerStatus, hidden.ModuleStatus = tcptable.OwnerPermissionDenied, tcptable.OwnerPermissionDenied
	tr.emit(t,
		opened(a), ownerChanged(a, acceptedBy(a, 10, "server")),
		ownerChanged(acceptedBy(a, 10, "server"), acceptedBy(a, 11, "worker")), // handed on: no second open
		opened(b), tcptable.Event{Kind: tcptable.EventStateChanged, Key: b.Key(), Before: b, After: acceptedBy(b, 10, "server")},
		opened(d), closed(acceptedBy(d, 12, "reaper")), // accepted and closed, the accept untraced
		opened(late),
		opened(hidden), // an owner the exporter may not see: counted at once, not held
	)
	want := churnWant("[hidden] 1 0", "server 2 0", "reaper 1 1") + unattributedWant(0, 0)
	names := append(churnCounters[:2:2], "tcptable_trace_opens_unattributed_total")
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(want), names...))

	clock.Add(metrics.OpenHold)
	tr.emit(t, ownerChanged(late, acceptedBy(late, 10, "server"))) // too late: not counted again
	want = churnWant("[hidden] 1 0", "[kernel] 1 0", "server 2 0", "reaper 1 1") + unattributedWant(1, 0)
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(want), names...))
}

// TestTraceHeldOpensBounded: at most MaxHeldOpens opens wait for their
// owner; the next is counted at once for [kernel] and as an overflow, and
// the held ones still count for their owner.
func TestTraceHeldOpensBounded(t *testing.T) {
	clock := &testClock{now: time.Unix(1e9, 0)}
	tr := newScriptedTracer()
	c := newCollector(t, tr, metrics.WithClock(clock.Now))
	var evs []tcptable.Event
	for i := range metrics.MaxHeldOpens + 1 {
		evs = append(evs, opened(accepted(uint16(10000+i))))
	}
	for i := range metrics.MaxHeldOpens + 1 {
		a := accepted(uint16(10000 + i))
		evs = append(evs, ownerChanged(a, acceptedBy(a, 10, "server")))
	}
	tr.emit(t, evs...)
	want := churnWant("[kernel] 1 0", fmt.Sprintf("server %d 0", metrics.MaxHeldOpens)) + unattributedWant(0, 1)
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(want),
		churnCounters[0], churnCounters[1], "tcptable_trace_opens_unattributed_total"))
}

// TestMockTraceAccepted: the mock reports a row born owned by the kernel
// and then given to a process as an open and an owner change, as the
// Linux trace reports an accepted connection: the open counts for the
// process, not [kernel].
func TestMockTraceAccepted(t *testing.T) {
	p, c := newTracedMock(t)
	self, err := os.Executable()
	require.NoError(t, err)
	me := filepath.Base(self)
	for i := range 3 {
		a := accepted(uint16(6000 + i))
		p.Add(a)
		p.Flush()
		require.True(t, p.Update(a.Key(), func(c *tcptable.Connection) { *c = acceptedBy(*c, uint32(os.Getpid()), me) }))
	}
	p.Flush()
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(churnWant(me+" 3 0")), churnCounters...))
}
