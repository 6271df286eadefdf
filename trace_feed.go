package tcptable

import (
	"context"
	"sync"
)

// defaultTraceBuffer is how many traced events a Watcher holds between two
// Polls unless WithTraceBuffer says otherwise: about 12 MB of Events, a
// fraction of a second at the busiest rates a kernel reports.
const defaultTraceBuffer = 1 << 14

// traceRun is one running trace: the goroutine that calls Trace, and the
// bounded queue that carries its events to the Watcher. The queue never
// blocks the tracer (a kernel ring buffer behind it would overflow
// instead): what does not fit is counted, and the Watcher reports it as
// EventLost and resynchronises.
type traceRun struct {
	cancel context.CancelFunc
	done   chan struct{} // closed when Trace has returned
	err    error         // what Trace returned; read after done

	ready     chan struct{} // closed when the trace is live
	readyOnce sync.Once
	source    string // the ReadyTracer's name; written before ready closes

	wake chan struct{} // holds a token when events are queued

	mu      sync.Mutex
	queue   []Event
	limit   int    // the most events queue holds
	lost    bool   // events were dropped since the last take
	dropped uint64 // how many, as far as known
	pushed  uint64 // events Trace ever delivered
}

// startTrace runs t's trace of q on a new goroutine until ctx ends or
// stop is called, queueing at most limit events between takes.
func startTrace(ctx context.Context, t Tracer, q Query, limit int) *traceRun {
	ctx, cancel := context.WithCancel(ctx)
	r := &traceRun{
		cancel: cancel,
		done:   make(chan struct{}),
		ready:  make(chan struct{}),
		wake:   make(chan struct{}, 1),
		limit:  limit,
	}
	go func() {
		defer close(r.done)
		if rt, ok := t.(ReadyTracer); ok {
			r.err = rt.TraceReady(ctx, q, r.markReady, r.push)
		} else {
			r.err = t.Trace(ctx, q, r.push)
		}
	}()
	return r
}

// markReady records that the trace is live and which source it reads.
func (r *traceRun) markReady(source string) {
	r.readyOnce.Do(func() {
		r.source = source
		close(r.ready)
	})
}

// push queues e (deep-copied: the tracer may reuse what it hands over), or
// counts it as dropped when the queue is full. It never blocks and never
// fails, so the trace runs on whatever the Watcher does.
func (r *traceRun) push(e Event) error {
	r.markReady(sourceTrace) // an event before ready means the trace is live
	r.mu.Lock()
	r.pushed++
	if len(r.queue) < r.limit {
		e.Before, e.After = e.Before.Clone(), e.After.Clone()
		r.queue = append(r.queue, e)
	} else {
		r.lost = true
		r.dropped += max(e.Lost, 1)
	}
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
	return nil
}

// take hands over the queued events, giving buf's array to the queue in
// exchange, and reports how many were dropped since the last take.
func (r *traceRun) take(buf []Event) (events []Event, lost bool, dropped uint64) {
	clear(buf) // the rows of the last batch need not stay reachable
	r.mu.Lock()
	defer r.mu.Unlock()
	events, r.queue = r.queue, buf[:0]
	lost, dropped = r.lost, r.dropped
	r.lost, r.dropped = false, 0
	return events, lost, dropped
}

// discard forgets the queued events and drops: a snapshot about to be
// taken shows their effect.
func (r *traceRun) discard() {
	r.mu.Lock()
	defer r.mu.Unlock()
	clear(r.queue)
	r.queue = r.queue[:0]
	r.lost, r.dropped = false, 0
}

// delivered reports whether Trace has delivered any event.
func (r *traceRun) delivered() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.pushed > 0
}

// finished reports whether Trace has returned and every event it
// delivered has been taken.
func (r *traceRun) finished() bool {
	select {
	case <-r.done:
	default:
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.queue) == 0 && !r.lost
}

// stop ends the trace and waits for Trace to return.
func (r *traceRun) stop() {
	r.cancel()
	<-r.done
}
