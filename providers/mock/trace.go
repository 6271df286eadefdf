package mock

import (
	"context"
	"fmt"
	"time"

	"github.com/tcptable/tcptable"
)

// Provider reports its edits as kernel events would be reported.
var _ tcptable.ReadyTracer = (*Provider)(nil)

// traceSource is the source name the mock's traces give.
const traceSource = "mock"

// trace is one running Trace: the events made for it and not yet
// delivered, under the provider's lock.
type trace struct {
	q         tcptable.Query
	queue     []tcptable.Event
	wake      chan struct{} // holds a token when queue or end changed
	end       error         // set: return it once queue is delivered
	drop      int           // events still to drop (LoseEvents)
	enqueued  uint64        // events ever queued
	delivered uint64        // events fn has returned from
	done      bool          // Trace has returned
}

// Trace calls fn with every change the table's edits make to the rows q
// matches, until ctx ends, fn fails, the provider is closed or EndTraces
// ends it. See TraceReady.
func (p *Provider) Trace(ctx context.Context, q tcptable.Query, fn func(tcptable.Event) error) error {
	return p.TraceReady(ctx, q, nil, fn)
}

// TraceReady implements tcptable.ReadyTracer: once the trace is
// registered it calls ready("mock"), and then fn, from TraceReady's
// goroutine, with an event for every edit (Add, Set, Remove, SetState,
// Update, and the simulated endpoints' Listen, Dial, Close, ...): exactly
// the events tcptable.Diff reports between the answers to q just before
// and just after the edit, owner detail stripped as Table strips it,
// stamped with the time of the edit (SetClock). An edit that changes
// nothing q selects makes no event.
//
// It fails at once, before calling ready, with an error wrapping
// tcptable.ErrInvalid for a malformed q, tcptable.ErrClosed after Close,
// ctx.Err() if ctx has ended, or the next error queued by FailTrace. It
// returns an error wrapping ctx.Err() when ctx ends, fn's error when fn
// fails, one wrapping tcptable.ErrClosed when the provider is closed, and
// EndTraces' error.
//
// Events are delivered asynchronously, as a kernel's are: Flush waits
// until every running trace has delivered what the edits so far made.
// Without SetTraceBuffer a trace holds every undelivered event; with it,
// or after LoseEvents, events are dropped and an EventLost says how many.
func (p *Provider) TraceReady(ctx context.Context, q tcptable.Query, ready func(source string), fn func(tcptable.Event) error) error {
	if err := q.Validate(); err != nil {
		return fmt.Errorf("mock: trace: %w", err)
	}
	t, err := p.register(ctx, q)
	if err != nil {
		return err
	}
	defer p.unregister(t)
	if ready != nil {
		ready(traceSource)
	}
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("mock: trace: %w", err)
		}
		p.mu.Lock()
		batch, end := t.queue, t.end
		t.queue = nil
		p.mu.Unlock()
		for i, e := range batch {
			if err := fn(e); err != nil {
				p.deliveredLocking(t, i+1)
				return err
			}
		}
		if len(batch) > 0 {
			p.deliveredLocking(t, len(batch))
			continue
		}
		if end != nil {
			return end
		}
		select {
		case <-ctx.Done():
		case <-t.wake:
		}
	}
}

// register adds a trace of q, or returns why it cannot start.
func (p *Provider) register(ctx context.Context, q tcptable.Query) (*trace, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.closed:
		return nil, fmt.Errorf("mock: trace: %w", tcptable.ErrClosed)
	case ctx.Err() != nil:
		return nil, fmt.Errorf("mock: trace: %w", ctx.Err())
	case len(p.traceFaults) > 0:
		fault := p.traceFaults[0]
		p.traceFaults = p.traceFaults[1:]
		if fault != nil {
			return nil, fault
		}
	}
	q.States = append([]tcptable.State(nil), q.States...)
	t := &trace{q: q, wake: make(chan struct{}, 1)}
	p.traces = append(p.traces, t)
	return t, nil
}

// unregister removes t when its Trace returns.
func (p *Provider) unregister(t *trace) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, u := range p.traces {
		if u == t {
			p.traces = append(p.traces[:i], p.traces[i+1:]...)
			break
		}
	}
	t.done = true
	p.flushed.Broadcast()
}

// deliveredLocking records that fn has returned from n more of t's events.
func (p *Provider) deliveredLocking(t *trace, n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	t.delivered += uint64(n)
	p.flushed.Broadcast()
}

// publishLocked queues for every running trace the events of an edit that
// changed the rows before into the rows after (the rows it did not touch
// are in neither).
func (p *Provider) publishLocked(before, after []tcptable.Connection) {
	if len(p.traces) == 0 || (len(before) == 0 && len(after) == 0) {
		return
	}
	now := p.clock()
	for _, t := range p.traces {
		detail := t.q.Detail()
		view := func(rows []tcptable.Connection) []tcptable.Connection {
			var out []tcptable.Connection
			for i := range rows {
				if t.q.Match(rows[i]) {
					out = append(out, answer(rows[i], t.q))
				}
			}
			detail.Apply(out)
			return out
		}
		for _, e := range tcptable.Diff(view(before), view(after)) {
			e.Time = now
			p.enqueueLocked(t, e)
		}
	}
}

// enqueueLocked queues e for t, or drops it as LoseEvents and
// SetTraceBuffer say, counting it in an EventLost that is queued in its
// place (one for a run of drops).
func (p *Provider) enqueueLocked(t *trace, e tcptable.Event) {
	if t.end != nil {
		return
	}
	full := p.traceBuffer > 0 && len(t.queue) >= p.traceBuffer
	if t.drop > 0 || full {
		if t.drop > 0 {
			t.drop--
		}
		if n := len(t.queue); n > 0 && t.queue[n-1].Kind == tcptable.EventLost {
			t.queue[n-1].Lost++
			return
		}
		e = tcptable.Event{Kind: tcptable.EventLost, Lost: 1, Time: e.Time}
	}
	t.queue = append(t.queue, e)
	t.enqueued++
	wake(t)
}

// wake tells t's Trace that something changed.
func wake(t *trace) {
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

// endTracesLocked makes every running trace return err once it has
// delivered what it holds.
func (p *Provider) endTracesLocked(err error) {
	for _, t := range p.traces {
		if t.end == nil {
			t.end = err
			wake(t)
		}
	}
}

// FailTrace queues errs: the next len(errs) Trace calls return them, one
// each, in order, as they are, before calling ready or fn; a nil error lets
// its call trace normally. An error wrapping tcptable.ErrNotSupported
// simulates an OS where tracing is not permitted: a Watcher then polls.
func (p *Provider) FailTrace(errs ...error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.traceFaults = append(p.traceFaults, errs...)
}

// EndTraces makes every running Trace return err (as it is) once it has
// delivered the events it holds, as a trace whose source broke would.
func (p *Provider) EndTraces(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.endTracesLocked(err)
}

// LoseEvents makes every running trace drop the next n events, as an
// overflowing kernel buffer would, and report them with an EventLost
// event in their place.
func (p *Provider) LoseEvents(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, t := range p.traces {
		t.drop += n
	}
}

// SetTraceBuffer makes every trace hold at most n undelivered events, as
// a kernel ring buffer does: the events an edit makes while n are waiting
// are dropped and reported with an EventLost event. 0 (the default) holds
// every event.
func (p *Provider) SetTraceBuffer(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.traceBuffer = max(n, 0)
}

// SetClock makes traced events carry the time now returns instead of
// time.Now's, for reproducible output.
func (p *Provider) SetClock(now func() time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clock = now
}

// Traces returns how many traces are running.
func (p *Provider) Traces() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.traces)
}

// Flush waits until every running trace has delivered (fn has returned
// from) every event the edits so far made for it, or has ended. A trace
// whose fn blocks makes Flush block too.
func (p *Provider) Flush() {
	p.mu.Lock()
	defer p.mu.Unlock()
	want := make(map[*trace]uint64, len(p.traces))
	for _, t := range p.traces {
		want[t] = t.enqueued
	}
	for {
		waiting := false
		for t, n := range want {
			waiting = waiting || (!t.done && t.delivered < n)
		}
		if !waiting {
			return
		}
		p.flushed.Wait()
	}
}
