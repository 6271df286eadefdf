package metrics

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/tcptable/tcptable"
)

// Retry delays after a trace fails for a reason other than missing support.
const (
	traceRetryMin = time.Second
	traceRetryMax = time.Minute
)

// maxOpeners bounds how many open connections the collector remembers the
// opening process of, so that a close the kernel owns (after TIME-WAIT)
// still counts for the process that opened the connection.
const maxOpeners = 1 << 16

// traceState is the trace's share of the collector's state, guarded by
// Collector.mu.
type traceState struct {
	enabled bool   // the provider is a Tracer and tracing was not disabled
	up      bool   // a Trace call is running
	source  string // while up: the source a ReadyTracer named, else ""
	errors  uint64
	lost    uint64
	churn   *counterSet             // opened (0) and closed (1) per process
	openers map[tcptable.Key]string // process label that opened each connection
	held    *heldOpens              // opens waiting for their owner (hold.go)
}

// countOpen counts one open for the process labelled l; c.mu is held.
func (t *traceState) countOpen(l string) { t.churn.add(l, 0, 1) }

// expireHeld counts the opens that waited for their owner long enough;
// c.mu is held.
func (t *traceState) expireHeld(now time.Time) { t.held.expire(now, t.countOpen) }

// runTrace follows tr until ctx ends, retrying failed traces with backoff;
// it gives up when the provider says tracing is not supported here.
func (c *Collector) runTrace(ctx context.Context, tr tcptable.Tracer) {
	defer c.wg.Done()
	delay := traceRetryMin
	for {
		err := c.trace1(ctx, tr)
		// Say why the trace ends before the counters show it ended, so
		// whoever sees the error counted finds its reason logged; an
		// unsupported trace is said even when Close raced with it.
		stopped := ctx.Err() != nil
		final := true
		switch {
		case errors.Is(err, tcptable.ErrNotSupported):
			c.log(slog.LevelWarn, "tracing not available; per-process opened and closed counters stay empty", "err", err)
		case stopped:
		case errors.Is(err, tcptable.ErrClosed):
			c.log(slog.LevelWarn, "the provider was closed; tracing ends", "err", err)
		default:
			final = false
		}
		c.mu.Lock()
		c.trace.up, c.trace.source = false, ""
		if !stopped {
			c.trace.errors++
		}
		c.mu.Unlock()
		if final {
			return
		}
		c.log(slog.LevelWarn, "trace failed; retrying", "err", err, "retry", delay)
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		delay = min(2*delay, traceRetryMax)
	}
}

// trace1 runs one trace of tr. A ReadyTracer's trace is up once it says
// it is live; a plain Tracer's from the call.
func (c *Collector) trace1(ctx context.Context, tr tcptable.Tracer) error {
	up := func(source string) {
		c.mu.Lock()
		c.trace.up, c.trace.source = true, source
		c.mu.Unlock()
	}
	// Connections, not listeners (tcptable_listener_info shows those), with owners.
	q := tcptable.Query{Class: tcptable.ClassConnections}
	if rt, ok := tr.(tcptable.ReadyTracer); ok {
		return rt.TraceReady(ctx, q, func(source string) {
			up(source)
			c.log(slog.LevelDebug, "tracing", "source", source)
		}, c.traced)
	}
	up("")
	return tr.Trace(ctx, q, c.traced)
}

// traced counts one traced event.
func (c *Collector) traced(e tcptable.Event) error {
	l := c.churn(&e)
	if e.Kind == tcptable.EventClosed && c.cfg.stats && e.Before.Stats != nil {
		d := map[string]*byteDelta{}
		c.bmu.Lock()
		c.bytes.closed(&e.Before, l, d)
		c.bmu.Unlock()
		c.mu.Lock()
		c.trafficSeen = true
		for p, bd := range d {
			c.addTraffic(p, bd)
		}
		c.mu.Unlock()
	}
	return nil
}

// churn counts e in the trace's counters and returns, for a close, the
// process that opened the connection if the trace saw it, else "".
func (c *Collector) churn(e *tcptable.Event) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &c.trace
	switch e.Kind {
	case tcptable.EventLost:
		t.lost += max(e.Lost, 1) // at least one when the source does not know
	case tcptable.EventOpened:
		o := ownerOf(&e.After)
		l := o.label()
		// An open the kernel owns (an accepted connection, still in the
		// accept queue) waits for the event that names its owner. Hidden
		// and unknown owners stay so: holding them would not help.
		if o.reserved != processKernel || !t.held.hold(e.Key, l, c.cfg.now(), t.countOpen) {
			t.countOpen(l)
		}
		if o.reserved == "" && len(t.openers) < maxOpeners {
			t.openers[e.Key] = l
		}
	case tcptable.EventOwnerChanged, tcptable.EventStateChanged:
		o := ownerOf(&e.After)
		if o.reserved != "" {
			break
		}
		if _, ok := t.held.release(e.Key, c.cfg.now, t.countOpen); ok {
			t.countOpen(o.label())
		}
		if e.Kind != tcptable.EventOwnerChanged {
			break
		}
		if _, ok := t.openers[e.Key]; ok || len(t.openers) < maxOpeners {
			t.openers[e.Key] = o.label()
		}
	case tcptable.EventClosed:
		if l, ok := t.held.release(e.Key, c.cfg.now, t.countOpen); ok {
			// Closed before any event named its owner: the closing
			// row's owner, if it has one, else the open's bucket.
			if o := ownerOf(&e.Before); o.reserved == "" {
				l = o.label()
			}
			t.countOpen(l)
		}
		opener, ok := t.openers[e.Key]
		l := opener
		if !ok {
			l = ownerOf(&e.Before).label()
		}
		delete(t.openers, e.Key)
		t.churn.add(l, 1, 1)
		return opener
	}
	return ""
}
