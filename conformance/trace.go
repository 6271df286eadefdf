package conformance

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tcptable/tcptable"
)

// traceClockSlack is how far a traced event's time may lie outside the
// check's run: clocks converted from the kernel's are close, not exact; a
// time from another epoch (boot time taken for wall time) is far off.
const traceClockSlack = time.Minute

// trace is one Trace the check runs and records.
type trace struct {
	q       tcptable.Query
	cancel  context.CancelFunc
	ready   chan struct{}
	done    chan struct{}
	err     error  // what Trace returned; read after done
	broken  string // set if Trace panicked
	started time.Time

	mu         sync.Mutex
	events     []tcptable.Event
	calls      atomic.Int32 // fn calls in progress
	concurrent bool         // fn was called from two goroutines at once
}

// fn records an event; it is what Trace calls.
func (tr *trace) fn(e tcptable.Event) error {
	if tr.calls.Add(1) > 1 {
		tr.mu.Lock()
		tr.concurrent = true
		tr.mu.Unlock()
	}
	defer tr.calls.Add(-1)
	e.Before, e.After = e.Before.Clone(), e.After.Clone()
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.events = append(tr.events, e)
	return nil
}

// snapshot returns the events so far.
func (tr *trace) snapshot() []tcptable.Event {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return append([]tcptable.Event(nil), tr.events...)
}

// startTrace runs a trace of q on its own goroutine, guarded against
// panics, and waits until it is live: a ReadyTracer says so; another
// Tracer is taken to be live once it reports a listener the check opens.
// A trace that cannot start here skips the subtest if the provider
// declared NoTrace, and fails it otherwise. The trace is stopped at the
// end of the subtest.
func (s *session) startTrace(t tcptable.Tracer, q tcptable.Query, network string) *trace {
	s.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	tr := &trace{q: q, cancel: cancel, ready: make(chan struct{}), done: make(chan struct{}), started: time.Now()}
	var once sync.Once
	ready := func(string) { once.Do(func() { close(tr.ready) }) }
	rt, isReady := t.(tcptable.ReadyTracer)
	go func() {
		defer close(tr.done)
		defer func() {
			if r := recover(); r != nil {
				tr.broken = fmt.Sprintf("Trace(%s) panicked: %v\n%s", showQuery(q), r, debug.Stack())
			}
		}()
		if isReady {
			tr.err = rt.TraceReady(ctx, q, ready, tr.fn)
		} else {
			tr.err = t.Trace(ctx, q, tr.fn)
		}
	}()
	s.t.Cleanup(func() {
		cancel()
		select { // stopTrace reports a Trace that ignores its context
		case <-tr.done:
		case <-time.After(s.grace()):
		}
	})
	if !isReady {
		s.warmUp(tr, network)
		return tr
	}
	select {
	case <-tr.ready:
	case <-tr.done:
		s.traceEnded(tr, "before it called ready")
	case <-time.After(s.cfg.timeout):
		s.t.Fatalf("TraceReady(%s) did not call ready within %v", showQuery(q), s.cfg.timeout)
	}
	return tr
}

// traceEnded fails (or, with NoTrace declared and an error wrapping
// tcptable.ErrNotSupported, skips) the subtest for a trace that returned
// when it should still run.
func (s *session) traceEnded(tr *trace, when string) {
	s.t.Helper()
	switch {
	case tr.broken != "":
		s.t.Fatalf("%s", tr.broken)
	case errors.Is(tr.err, tcptable.ErrNotSupported) && s.cfg.has(NoTrace):
		s.t.Skipf("Trace is not supported here (gap %v): %v", NoTrace, tr.err)
	case errors.Is(tr.err, tcptable.ErrNotSupported):
		s.t.Fatalf("Trace(%s): %v (declare %v if the provider cannot trace on this platform)", showQuery(tr.q), tr.err, NoTrace)
	}
	s.t.Fatalf("Trace(%s) returned %s: %v", showQuery(tr.q), when, tr.err)
}

// warmUp waits until a Tracer that does not say when it is live reports a
// listener the check opens (a new one each try, until the timeout).
func (s *session) warmUp(tr *trace, network string) {
	s.t.Helper()
	deadline := time.Now().Add(s.cfg.timeout)
	try := max(s.cfg.timeout/20, 10*time.Millisecond)
	for time.Now().Before(deadline) {
		ln := s.listen(network)
		tp := tuple{ln.Addr(), unspecified(ln.Addr())}
		for end := time.Now().Add(try); time.Now().Before(end); time.Sleep(time.Millisecond) {
			select {
			case <-tr.done:
				s.traceEnded(tr, "before it reported anything")
			default:
			}
			for _, e := range tr.snapshot() {
				if e.Kind == tcptable.EventOpened && tupleOf(&e.After) == tp {
					_ = ln.Close()
					return
				}
			}
		}
		_ = ln.Close()
	}
	s.t.Fatalf("Trace(%s) reported none of the listeners opened on %s within %v", showQuery(tr.q), network, s.cfg.timeout)
}

// stop ends the trace and checks that Trace returns an error wrapping
// context.Canceled, within the grace period.
func (s *session) stopTrace(tr *trace) {
	s.t.Helper()
	tr.cancel()
	select {
	case <-tr.done:
	case <-time.After(s.grace()):
		s.t.Errorf("Trace(%s) did not return within %v after its context ended: the provider hangs or ignores its context", showQuery(tr.q), s.grace())
		return
	}
	switch {
	case tr.broken != "":
		s.t.Errorf("%s", tr.broken)
	case !errors.Is(tr.err, context.Canceled):
		s.t.Errorf("Trace(%s) returned %v when its context ended, want an error wrapping context.Canceled", showQuery(tr.q), tr.err)
	}
}

// await polls the traces' events until cond accepts them or the timeout
// passes; it returns cond's last complaint.
func (s *session) await(cond func() error) error {
	deadline := time.Now().Add(s.cfg.timeout)
	for {
		err := cond()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// find returns the first event of events about tp that ok accepts.
func find(events []tcptable.Event, tp tuple, ok func(e *tcptable.Event) bool) *tcptable.Event {
	for i := range events {
		e := &events[i]
		if e.Kind != tcptable.EventLost && tupleOf(e.Row()) == tp && ok(e) {
			return e
		}
	}
	return nil
}

// kindIs accepts events of kind k.
func kindIs(k tcptable.EventKind) func(e *tcptable.Event) bool {
	return func(e *tcptable.Event) bool { return e.Kind == k }
}

// ends accepts an event that leaves a connection closed or in TIME-WAIT.
func ends(e *tcptable.Event) bool {
	return e.Kind == tcptable.EventClosed || (e.Kind == tcptable.EventStateChanged && e.After.State == tcptable.StateTimeWait)
}

// requirement is one event a trace must report.
type requirement struct {
	what string
	tp   tuple
	ok   func(e *tcptable.Event) bool
}

// missing returns what of reqs the trace has not reported, with a note on
// losses it reported.
func missing(tr *trace, reqs []requirement) error {
	events := tr.snapshot()
	var miss []string
	for _, r := range reqs {
		if find(events, r.tp, r.ok) == nil {
			miss = append(miss, r.what)
		}
	}
	if len(miss) == 0 {
		return nil
	}
	note := ""
	if n, lost := losses(events); lost {
		note = fmt.Sprintf(" (it reported %d lost events)", n)
	}
	return fmt.Errorf("Trace(%s) reported no %s%s; it reported %s", showQuery(tr.q), strings.Join(miss, ", no "), note, describeEvents(events, reqs))
}

// losses sums the EventLost events.
func losses(events []tcptable.Event) (n uint64, lost bool) {
	for _, e := range events {
		if e.Kind == tcptable.EventLost {
			n, lost = n+e.Lost, true
		}
	}
	return n, lost
}

// describeEvents formats the events about the tuples of reqs, for
// messages.
func describeEvents(events []tcptable.Event, reqs []requirement) string {
	var parts []string
	for i := range events {
		e := &events[i]
		for _, r := range reqs {
			if e.Kind != tcptable.EventLost && tupleOf(e.Row()) == r.tp {
				parts = append(parts, describeEvent(e))
				break
			}
		}
	}
	if len(parts) == 0 {
		return fmt.Sprintf("nothing about them among %d events", len(events))
	}
	return strings.Join(parts, ", ")
}

// describeEvent formats an event for messages.
func describeEvent(e *tcptable.Event) string {
	switch e.Kind {
	case tcptable.EventLost:
		return fmt.Sprintf("lost(%d)", e.Lost)
	case tcptable.EventStateChanged:
		return fmt.Sprintf("state-changed from %v %s", e.Before.State, describe(&e.After))
	}
	return e.Kind.String() + " " + describe(e.Row())
}
