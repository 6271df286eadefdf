package tcptable

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Diff returns the changes from snapshot prev to snapshot next, keyed on
// Connection.Key: EventOpened for a key only in next, EventClosed for a key
// only in prev, and for a key in both an EventStateChanged when State
// differs and an EventOwnerChanged when PID, OtherPIDs or Module differ
// (both, in that order, when both changed). Other fields are not compared.
//
// The events are sorted by Key (network namespace, local address and port,
// remote address and port, ID) and then by Kind, so equal inputs give equal outputs whatever
// the row order. Their rows share memory (OtherPIDs, OwningModuleInfo) with
// prev and next. Diff's events have a zero Time.
func Diff(prev, next []Connection) []Event {
	var d differ
	return d.diff(nil, prev, next)
}

// differ holds the index maps one diff needs, so that a Watcher can reuse
// them from poll to poll.
type differ struct {
	prevIdx, nextIdx map[Key]int // row index by key in prev and next
}

// index fills m (allocated on first use, cleared and reused after) with the
// index of each row of conns by key. Of rows that share a key, which a
// correct provider never returns, the last one wins.
func index(m map[Key]int, conns []Connection) map[Key]int {
	if m == nil {
		m = make(map[Key]int, len(conns))
	}
	clear(m)
	for i := range conns {
		m[conns[i].Key()] = i
	}
	return m
}

// diff appends the events from prev to next to events, sorted, and leaves
// d.nextIdx indexing next. It assumes d.prevIdx indexes prev when it is not
// nil.
func (d *differ) diff(events []Event, prev, next []Connection) []Event {
	if d.prevIdx == nil {
		d.prevIdx = index(nil, prev)
	}
	d.nextIdx = index(d.nextIdx, next)
	start := len(events)
	for i := range next {
		n := &next[i]
		k := n.Key()
		j, ok := d.prevIdx[k]
		if !ok {
			events = append(events, Event{Kind: EventOpened, Key: k, After: *n})
			continue
		}
		p := &prev[j]
		if p.State != n.State {
			events = append(events, Event{Kind: EventStateChanged, Key: k, Before: *p, After: *n})
		}
		if !sameOwners(p, n) {
			events = append(events, Event{Kind: EventOwnerChanged, Key: k, Before: *p, After: *n})
		}
	}
	for i := range prev {
		p := &prev[i]
		k := p.Key()
		if _, ok := d.nextIdx[k]; !ok {
			events = append(events, Event{Kind: EventClosed, Key: k, Before: *p})
		}
	}
	slices.SortStableFunc(events[start:], func(a, b Event) int {
		if c := a.Key.compare(b.Key); c != 0 {
			return c
		}
		return int(a.Kind) - int(b.Kind)
	})
	return events
}

// sameOwners reports whether a and b have the same PID, OtherPIDs and Module.
func sameOwners(a, b *Connection) bool {
	return a.PID == b.PID && a.Module == b.Module && slices.Equal(a.OtherPIDs, b.OtherPIDs)
}

// compare orders keys by namespace, local address and port, remote address
// and port, then ID.
func (k Key) compare(o Key) int {
	return cmp.Or(cmp.Compare(k.NetNS, o.NetNS), k.Local.Compare(o.Local), k.Remote.Compare(o.Remote), cmp.Compare(k.ID, o.ID))
}

// Watcher follows a Provider's table and reports what changes, as Diff's
// events, and remembers when it first saw each connection, in
// Connection.FirstSeen. That is the only age Linux and most other OSes can
// offer: they record no creation time (Connection.Created is zero).
// FirstSeen survives state and owner changes (it follows Key); a
// connection present at the baseline gets the baseline's time, which only
// bounds its age.
//
// # Polling and tracing
//
// A Watcher gets its events in one of two ways. Polling: each Poll takes a
// snapshot and reports Diff's events since the last one; a connection that
// lives shorter than the interval between two polls is never seen. Tracing:
// when the provider implements Tracer and the OS permits it, Start runs a
// trace and each Poll reports the changes the OS made since the last one,
// as it made them, down to a connection that lived a millisecond.
//
// Poll alone polls. Start (or Next, which calls it) chooses: it traces
// unless the provider is no Tracer, WithoutTrace says not to, or Trace
// fails at once with an error wrapping ErrNotSupported or ErrPermission
// (no privilege, an old kernel); Source says which was chosen and why.
//
// A traced Watcher keeps the same view as a polling one: it takes a
// baseline snapshot once the trace is live (a ReadyTracer says when; for
// another Tracer it takes a second snapshot one interval later, to report
// what fell between), then applies each traced event to that view and
// reports the change it makes, so that its events are Diff's events between
// successive states of the view: per connection, the same kinds in the same
// order. When the trace loses events (EventLost, or more events than
// WithTraceBuffer holds between two Polls), Poll reports the loss as an
// EventLost event, never silently, and the next Poll (Next: at most one
// interval after the last snapshot) takes a new snapshot and reports what
// changed meanwhile as ordinary events.
//
// A polling Watcher starts no goroutine and holds no OS resource; a traced
// one runs the trace on a goroutine until the context given to Start ends
// or Close is called. Either reuses its index maps and event buffers, and,
// with a provider that implements ReusingProvider, its snapshots too. A
// Watcher is not safe for concurrent use. Watch runs one in a loop.
type Watcher struct {
	p        Provider
	q        Query
	now      func() time.Time
	interval time.Duration // Next's polling interval, and the pace of resynchronisations
	noTrace  bool          // WithoutTrace
	traceMax int           // WithTraceBuffer

	polled bool         // a baseline has been taken
	at     time.Time    // when the view was last brought up to date
	table  []Connection // the view: the last snapshot, traced changes applied, FirstSeen stamped
	spare  []Connection // the snapshot before: a ReusingProvider's next buffer
	d      differ       // d.prevIdx indexes table
	events []Event

	started bool        // Start has chosen the source
	src     WatchSource // what it chose
	tr      *traceRun   // the running trace; nil when polling
	resync  bool        // the view needs a snapshot before more traced events
	settle  time.Time   // when a plain Tracer's second snapshot is due (monotonic)
	batch   []Event     // the traced events being applied
	due     time.Time   // when Next polls or resynchronises next (monotonic)
	timer   *time.Timer // Next's, reused
}

// WatcherOption configures a Watcher, and Watch.
type WatcherOption func(*Watcher)

// WithClock makes the Watcher read the time from now instead of time.Now,
// for tests and reproducible output. It stamps polled events and
// FirstSeen; traced events keep the time the OS gave them.
func WithClock(now func() time.Time) WatcherOption {
	return func(w *Watcher) { w.now = now }
}

// WithInterval sets how often Next polls (default one second; Watch uses
// its interval argument). A traced Watcher uses it too: it takes the
// snapshots that follow a loss at most once an interval. A d that is not
// positive keeps the default.
func WithInterval(d time.Duration) WatcherOption {
	return func(w *Watcher) {
		if d > 0 {
			w.interval = d
		}
	}
}

// WithoutTrace makes the Watcher poll even when the provider can trace, as
// `tcptable --watch --poll` does.
func WithoutTrace() WatcherOption {
	return func(w *Watcher) { w.noTrace = true }
}

// WithTraceBuffer sets how many traced events the Watcher holds between two
// Polls (default 16384). The trace is never made to wait for the Watcher:
// events beyond n are dropped, reported as an EventLost event, and what
// they changed is reported from a new snapshot. An n that is not positive
// keeps the default.
func WithTraceBuffer(n int) WatcherOption {
	return func(w *Watcher) {
		if n > 0 {
			w.traceMax = n
		}
	}
}

// NewWatcher returns a Watcher of the rows q selects. It neither polls nor
// traces yet: the first Start, Next or Poll takes the baseline.
func NewWatcher(p Provider, q Query, opts ...WatcherOption) *Watcher {
	w := &Watcher{p: p, q: q, now: time.Now, interval: time.Second, traceMax: defaultTraceBuffer}
	for _, o := range opts {
		o(w)
	}
	return w
}

// Poll returns the events since the previous Poll (or the baseline).
//
// A polling Watcher takes a snapshot and returns Diff's events from the
// last one, stamped with the snapshot's time; a first Poll before Start
// only records the baseline and returns no events (Table shows it). When
// the provider's Table fails, Poll returns the error and changes nothing:
// the next Poll diffs against the last good snapshot. That holds for a
// partial table returned with ErrInconsistent too, whose missing rows
// would otherwise be reported as closed.
//
// A traced Watcher returns the changes the trace reported since, stamped
// with the OS's times, without waiting for more; it reads the table only
// to resynchronise after a loss. When the trace ends with an error, Poll
// returns it (once every event before it was returned) and the Watcher
// polls from then on; a trace that ends before its first event for want of
// support or permission is not an error: the Watcher polls instead.
//
// The slice is reused by the next Poll: copy what must outlive it.
func (w *Watcher) Poll(ctx context.Context) ([]Event, error) {
	if w.tr != nil {
		return w.pollTrace(ctx)
	}
	w.events = w.events[:0]
	if err := w.snapshot(ctx, w.polled); err != nil {
		return nil, err
	}
	return w.events, nil
}

// snapshot reads the table and makes it the view, keeping FirstSeen (and
// Created where the new row has none) of the connections the view holds;
// with report it appends Diff's events from the old view to w.events. On
// error it changes nothing.
func (w *Watcher) snapshot(ctx context.Context, report bool) error {
	w.due = time.Now().Add(w.interval)
	var next []Connection
	var err error
	if rp, ok := w.p.(ReusingProvider); ok {
		next, err = rp.TableInto(ctx, w.q, w.spare)
	} else {
		next, err = w.p.Table(ctx, w.q)
	}
	if err != nil {
		return err
	}
	now := w.now()
	for i := range next {
		c := &next[i]
		c.FirstSeen = now
		if j, ok := w.d.prevIdx[c.Key()]; ok {
			c.FirstSeen = w.table[j].FirstSeen
			if c.Created.IsZero() {
				c.Created = w.table[j].Created
			}
		}
	}
	start := len(w.events)
	if report {
		w.events = w.d.diff(w.events, w.table, next)
	} else {
		w.d.nextIdx = index(w.d.nextIdx, next)
	}
	for i := start; i < len(w.events); i++ {
		w.events[i].Time = now
	}
	w.polled, w.at = true, now
	w.table, w.spare = next, w.table
	w.d.prevIdx, w.d.nextIdx = w.d.nextIdx, w.d.prevIdx
	return nil
}

// Next waits for the next changes and returns them: a polling Watcher
// polls one interval (WithInterval) after its last snapshot, a traced one
// as soon as the trace reports something. The first Next is Start: it
// returns no events. Next returns ctx.Err() when ctx ends while it waits;
// it may return no events (a trace that reported nothing the query keeps).
// The slice is reused as Poll's is.
func (w *Watcher) Next(ctx context.Context) ([]Event, error) {
	if !w.started || !w.polled {
		if err := w.sleep(ctx, w.due, nil, nil); err != nil { // pace retries of a failed baseline
			return nil, err
		}
		return nil, w.Start(ctx)
	}
	due, wake, done := w.due, (<-chan struct{})(nil), (<-chan struct{})(nil)
	if w.tr != nil {
		// After a loss the next snapshot waits for its turn, whatever
		// comes meanwhile: a trace that keeps overflowing must not turn
		// into a snapshot per event.
		done = w.tr.done
		if !w.resync {
			due, wake = w.settle, w.tr.wake
		}
	}
	if err := w.sleep(ctx, due, wake, done); err != nil {
		return nil, err
	}
	return w.Poll(ctx)
}

// sleep waits until due (not at all if it is zero or past, forever if it
// is zero and a channel is given), or until wake or done is ready.
func (w *Watcher) sleep(ctx context.Context, due time.Time, wake, done <-chan struct{}) error {
	var alarm <-chan time.Time
	if !due.IsZero() {
		d := time.Until(due)
		if d <= 0 {
			return ctx.Err()
		}
		if w.timer == nil {
			w.timer = time.NewTimer(d)
		} else {
			w.timer.Reset(d)
		}
		defer w.timer.Stop()
		alarm = w.timer.C
	} else if wake == nil && done == nil {
		return ctx.Err()
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-alarm:
	case <-wake:
	case <-done:
	}
	return nil
}

// Table returns the Watcher's view of the table: the last snapshot, with
// the traced changes since applied, FirstSeen stamped on every row, in no
// particular order; nil before the baseline. The caller must not modify
// it, and must copy what it needs beyond the next Poll: a traced Poll
// changes it in place, and with a ReusingProvider the Poll after next
// builds its snapshot in this one's array.
func (w *Watcher) Table() []Connection { return w.table }

// PolledAt returns when the view (Table) was last brought up to date: the
// time of the last snapshot or, when tracing, of the last Poll. It is zero
// before the baseline.
func (w *Watcher) PolledAt() time.Time { return w.at }

// FirstSeen returns when the Watcher first saw the connection with key k,
// if it is in the view: the time of the baseline or snapshot that first
// showed it, or of the traced event that opened it.
func (w *Watcher) FirstSeen(k Key) (time.Time, bool) {
	if i, ok := w.d.prevIdx[k]; ok {
		return w.table[i].FirstSeen, true
	}
	return time.Time{}, false
}

// Source says where the events come from; its zero value until Start has
// chosen. It changes when the trace ends (Poll then polls).
func (w *Watcher) Source() WatchSource { return w.src }

// Close ends the trace, if one runs, and waits for it; the Watcher polls
// from then on. It does not close the provider. It is idempotent and
// returns nil.
func (w *Watcher) Close() error {
	if w.tr != nil {
		w.tr.stop()
		w.tr = nil
		w.src = WatchSource{Name: sourcePoll, Reason: "the watcher was closed"}
	}
	return nil
}

// Watch follows the rows q selects in p and calls fn, in order, with every
// change (see Watcher): it traces when p implements Tracer and the OS
// permits (WithoutTrace says not to), and polls every interval otherwise.
// The baseline, taken at once, reports nothing. A traced watch reports
// lost events as an EventLost event, followed by what a new snapshot shows
// changed meanwhile. Watch runs in the calling goroutine, stops the trace
// before it returns, and returns when:
//
//   - ctx is done: it returns ctx.Err();
//   - fn returns an error: it returns that error;
//   - Table fails: it returns the error, except that a poll failing with
//     ErrInconsistent is skipped (the next one, an interval later, retries);
//   - the trace ends with an error: it returns that error;
//   - interval is not positive: it returns an error wrapping ErrInvalid.
//
// opts configure the Watcher as they do NewWatcher; interval overrides any
// WithInterval among them. Use a Watcher directly to keep going through
// errors or to read the current table between changes.
func Watch(ctx context.Context, p Provider, q Query, interval time.Duration, fn func(Event) error, opts ...WatcherOption) error {
	if interval <= 0 {
		return fmt.Errorf("tcptable: watch interval %v: %w: must be positive", interval, ErrInvalid)
	}
	w := NewWatcher(p, q, append(slices.Clip(opts), WithInterval(interval))...)
	defer w.Close()
	for {
		events, err := w.Next(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil && !errors.Is(err, ErrInconsistent) {
			return err
		}
		for _, e := range events {
			if err := fn(e); err != nil {
				return err
			}
		}
	}
}
