package tcptable

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Start chooses where the Watcher's events come from (see Source) and
// takes the baseline snapshot, unless a Poll took it already. With a
// provider that can trace it starts the trace first, bound to ctx, and
// takes the baseline once the trace is live; for a ReadyTracer it waits
// for that. Later calls take the baseline if it failed before and
// otherwise do nothing.
//
// Start returns the error of the baseline's Table (the trace, if any, keeps
// running: a later Start or Next retries), ctx.Err() when ctx ends while it
// waits for the trace, and the trace's error when it fails to start for
// another reason than support or permission.
func (w *Watcher) Start(ctx context.Context) error {
	if !w.started {
		if err := w.choose(ctx); err != nil {
			return err
		}
		w.started = true
	}
	if w.polled {
		return nil
	}
	if w.tr != nil {
		w.tr.discard() // the baseline shows what they changed
	}
	if err := w.snapshot(ctx, false); err != nil {
		return err
	}
	if w.tr != nil && w.tr.finished() && !w.tr.delivered() && unsupported(w.tr.err) {
		w.fallBack(w.tr.err) // a plain Tracer that could not start
	}
	return nil
}

// choose starts the trace if the Watcher is to trace, and records the
// source either way.
func (w *Watcher) choose(ctx context.Context) error {
	t, ok := w.p.(Tracer)
	switch {
	case w.noTrace:
		w.src = WatchSource{Name: sourcePoll, Reason: "tracing turned off"}
		return nil
	case !ok:
		w.src = WatchSource{Name: sourcePoll, Reason: fmt.Sprintf("%T has no kernel events (no tcptable.Tracer)", w.p)}
		return nil
	}
	tr := startTrace(ctx, t, w.q, w.traceMax)
	name := sourceTrace
	if _, ok := t.(ReadyTracer); ok {
		select {
		case <-tr.ready:
		case <-tr.done:
		case <-ctx.Done():
			tr.stop()
			return ctx.Err()
		}
		select {
		case <-tr.ready:
			name = tr.source
		default: // Trace returned without starting
			if unsupported(tr.err) {
				w.fallBack(tr.err)
				return nil
			}
			if tr.err == nil {
				return fmt.Errorf("tcptable: %T.TraceReady returned nil before the trace started", t)
			}
			return fmt.Errorf("tcptable: trace: %w", tr.err)
		}
	} else {
		// A plain Tracer does not say when it is live: a second snapshot,
		// one interval later, reports what fell between the baseline and
		// the trace; its events are reported meanwhile.
		w.settle = time.Now().Add(w.interval)
	}
	if w.polled {
		w.resync = true // the view comes from polling: bring it up to date
	}
	w.tr, w.src = tr, WatchSource{Traced: true, Name: name}
	return nil
}

// unsupported reports whether err says that the provider cannot trace
// here: the cue to poll instead.
func unsupported(err error) bool {
	return errors.Is(err, ErrNotSupported) || errors.Is(err, ErrPermission)
}

// fallBack makes the Watcher poll because the trace could not start.
func (w *Watcher) fallBack(why error) {
	w.tr, w.resync, w.settle = nil, false, time.Time{}
	w.src = WatchSource{Name: sourcePoll, Reason: why.Error()}
}

// pollTrace is Poll for a traced Watcher.
func (w *Watcher) pollTrace(ctx context.Context) ([]Event, error) {
	w.events = w.events[:0]
	if w.tr.finished() {
		return w.traceEnded(ctx)
	}
	if !w.settle.IsZero() && !time.Now().Before(w.settle) {
		w.resync, w.settle = true, time.Time{}
	}
	var now time.Time
	if w.resync {
		w.tr.discard() // the snapshot shows what they changed
		if err := w.snapshot(ctx, true); err != nil {
			return nil, err
		}
		w.resync, now = false, w.at
	} else {
		now = w.now()
	}
	var lost bool
	var dropped uint64
	w.batch, lost, dropped = w.tr.take(w.batch)
	for i := range w.batch {
		e := &w.batch[i]
		if e.Kind == EventLost {
			// What follows may rest on what was lost: the next snapshot
			// shows its effect instead.
			w.lose(e.Lost, e.Time, now)
			return w.events, nil
		}
		w.apply(e, now)
	}
	if lost {
		w.lose(dropped, time.Time{}, now)
	}
	w.at = now
	return w.events, nil
}

// lose reports a loss of n events (0: unknown) at t and schedules a
// snapshot.
func (w *Watcher) lose(n uint64, t, now time.Time) {
	if t.IsZero() {
		t = now
	}
	w.events = append(w.events, Event{Kind: EventLost, Lost: n, Time: t})
	w.resync, w.at = true, now
}

// traceEnded handles a trace whose Trace has returned and whose events
// have all been reported: a trace that could not start gives way to
// polling; any other end is an error, reported once, after which the
// Watcher polls.
func (w *Watcher) traceEnded(ctx context.Context) ([]Event, error) {
	tr := w.tr
	if !tr.delivered() && unsupported(tr.err) {
		w.fallBack(tr.err)
		return w.Poll(ctx)
	}
	err := tr.err
	if err == nil {
		err = errors.New("Trace returned before its context ended")
	}
	w.tr, w.resync, w.settle = nil, false, time.Time{}
	w.src = WatchSource{Name: sourcePoll, Reason: "the trace ended: " + err.Error()}
	return nil, fmt.Errorf("tcptable: trace ended: %w", err)
}

// apply applies one traced event to the view and appends the changes it
// makes to w.events, as Diff reports them between the view before and
// after: the kinds and order stay Diff's whatever the tracer sends (a
// duplicate changes nothing and is not reported; a change to a connection
// the view lacks opens it). An event stamped with no time gets now.
func (w *Watcher) apply(e *Event, now time.Time) {
	at := e.Time
	if at.IsZero() {
		at = now
	}
	switch e.Kind {
	case EventOpened:
		w.update(&e.After, &e.After, at, takeRow)
	case EventStateChanged:
		w.update(&e.Before, &e.After, at, takeState)
	case EventOwnerChanged:
		w.update(&e.Before, &e.After, at, takeOwners)
	case EventClosed:
		if i, ok := w.d.prevIdx[e.Before.Key()]; ok {
			w.removeAt(i, at)
		}
	}
}

// update merges after into the view's row for the event's connection,
// found by after's Key or else before's. A connection the view lacks is
// opened if after matches the query; one that no longer matches is
// closed; one whose Key the change altered (a listener known by its PID)
// is closed and opened again under the new Key.
func (w *Watcher) update(before, after *Connection, at time.Time, merge func(row, ev *Connection)) {
	i, ok := w.d.prevIdx[after.Key()]
	if !ok && before != after {
		i, ok = w.d.prevIdx[before.Key()]
	}
	if !ok {
		if w.q.Match(*after) {
			w.put(*after, at)
		}
		return
	}
	cur := w.table[i]
	next := cur
	merge(&next, after)
	switch {
	case !w.q.Match(next):
		w.removeAt(i, at)
	case next.Key() != cur.Key():
		w.removeAt(i, at)
		w.put(next, at)
	default:
		w.table[i] = next
		w.report(&cur, &next, at)
	}
}

// put adds c to the view and reports it opened, or, when the view has a
// row with its Key, replaces that row (keeping its FirstSeen, and Created
// if c has none) and reports the difference.
func (w *Watcher) put(c Connection, at time.Time) {
	k := c.Key()
	if i, ok := w.d.prevIdx[k]; ok {
		cur := w.table[i]
		takeRow(&w.table[i], &c)
		w.report(&cur, &w.table[i], at)
		return
	}
	c.FirstSeen = at
	w.d.prevIdx[k] = len(w.table)
	w.table = append(w.table, c)
	w.events = append(w.events, Event{Kind: EventOpened, Key: k, After: c, Time: at})
}

// report appends Diff's events for a row that changed from cur to next.
func (w *Watcher) report(cur, next *Connection, at time.Time) {
	k := next.Key()
	if cur.State != next.State {
		w.events = append(w.events, Event{Kind: EventStateChanged, Key: k, Before: *cur, After: *next, Time: at})
	}
	if !sameOwners(cur, next) {
		w.events = append(w.events, Event{Kind: EventOwnerChanged, Key: k, Before: *cur, After: *next, Time: at})
	}
}

// removeAt removes the view's row i and reports it closed.
func (w *Watcher) removeAt(i int, at time.Time) {
	cur := w.table[i]
	k := cur.Key()
	w.events = append(w.events, Event{Kind: EventClosed, Key: k, Before: cur, Time: at})
	last := len(w.table) - 1
	if i != last {
		w.table[i] = w.table[last]
		w.d.prevIdx[w.table[i].Key()] = i
	}
	w.table[last] = Connection{}
	w.table = w.table[:last]
	delete(w.d.prevIdx, k)
}

// takeRow makes row ev, keeping row's FirstSeen, and its Created when ev
// has none.
func takeRow(row, ev *Connection) {
	seen, created := row.FirstSeen, row.Created
	*row = *ev
	row.FirstSeen = seen
	if row.Created.IsZero() {
		row.Created = created
	}
}

// takeState takes ev's state (and Created, if row has none).
func takeState(row, ev *Connection) {
	row.State, row.OSState = ev.State, ev.OSState
	if row.Created.IsZero() {
		row.Created = ev.Created
	}
}

// takeOwners takes ev's owners: what Diff compares for EventOwnerChanged,
// with their statuses and sources.
func takeOwners(row, ev *Connection) {
	row.PID, row.OtherPIDs, row.OwnerStatus = ev.PID, ev.OtherPIDs, ev.OwnerStatus
	row.Module, row.ModuleStatus, row.ModuleSource, row.OwningModuleInfo = ev.Module, ev.ModuleStatus, ev.ModuleSource, ev.OwningModuleInfo
}
