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
// The events are sorted by Key (local address and port, remote address and
// port, ID) and then by Kind, so equal inputs give equal outputs whatever
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

// Watcher follows a Provider's table from poll to poll: it reports what
// changed (Diff's events) and remembers when it first saw each connection,
// in Connection.FirstSeen. That is the only age Linux and most other OSes
// can offer: they record no creation time (Connection.Created is zero).
// FirstSeen survives state and owner changes (it follows Key); a
// connection present at the first poll gets that poll's time, which only
// bounds its age.
//
// A Watcher starts no goroutine and holds no OS resource; it reuses its
// index maps and event buffer between polls, and, with a provider that
// implements ReusingProvider, the snapshots too: it keeps two tables in
// memory however long it polls. It is not safe for concurrent
// use. Watch runs one in a loop.
type Watcher struct {
	p      Provider
	q      Query
	now    func() time.Time
	polled bool
	at     time.Time    // when the last good snapshot was taken
	table  []Connection // the last good snapshot, FirstSeen stamped
	spare  []Connection // the one before: a ReusingProvider's next buffer
	d      differ
	events []Event
}

// WatcherOption configures a Watcher.
type WatcherOption func(*Watcher)

// WithClock makes the Watcher read the time from now instead of time.Now,
// for tests and reproducible output.
func WithClock(now func() time.Time) WatcherOption {
	return func(w *Watcher) { w.now = now }
}

// NewWatcher returns a Watcher that polls p for the rows q selects. It does
// not poll yet; the first Poll takes the baseline snapshot.
func NewWatcher(p Provider, q Query, opts ...WatcherOption) *Watcher {
	w := &Watcher{p: p, q: q, now: time.Now}
	for _, o := range opts {
		o(w)
	}
	return w
}

// Poll takes a snapshot and returns the events since the previous
// successful Poll, stamped with the snapshot's time; the first Poll only
// records the baseline and returns no events (Table shows it). The slice is
// reused by the next Poll: copy what must outlive it.
//
// When the provider's Table fails, Poll returns the error and changes
// nothing: the next Poll diffs against the last good snapshot. That holds
// for a partial table returned with ErrInconsistent too, whose missing rows
// would otherwise be reported as closed.
func (w *Watcher) Poll(ctx context.Context) ([]Event, error) {
	var next []Connection
	var err error
	if rp, ok := w.p.(ReusingProvider); ok {
		next, err = rp.TableInto(ctx, w.q, w.spare)
	} else {
		next, err = w.p.Table(ctx, w.q)
	}
	if err != nil {
		return nil, err
	}
	now := w.now()
	for i := range next {
		next[i].FirstSeen = now
		if j, ok := w.d.prevIdx[next[i].Key()]; ok {
			next[i].FirstSeen = w.table[j].FirstSeen
		}
	}
	if w.polled {
		w.events = w.d.diff(w.events[:0], w.table, next)
	} else {
		w.d.nextIdx = index(w.d.nextIdx, next)
		w.events = w.events[:0]
	}
	for i := range w.events {
		w.events[i].Time = now
	}
	w.polled, w.at = true, now
	w.table, w.spare = next, w.table
	w.d.prevIdx, w.d.nextIdx = w.d.nextIdx, w.d.prevIdx
	return w.events, nil
}

// Table returns the last good snapshot with FirstSeen stamped on every row,
// or nil before the first successful Poll. The caller must not modify it,
// and must copy what it needs beyond the next Poll: with a ReusingProvider
// the Poll after that builds its snapshot in this one's array.
func (w *Watcher) Table() []Connection { return w.table }

// PolledAt returns when the last good snapshot (Table) was taken: the
// Time of its events. It is zero before the first successful Poll.
func (w *Watcher) PolledAt() time.Time { return w.at }

// FirstSeen returns when the Watcher first saw the connection with key k,
// if it is in the last good snapshot.
func (w *Watcher) FirstSeen(k Key) (time.Time, bool) {
	if i, ok := w.d.prevIdx[k]; ok {
		return w.table[i].FirstSeen, true
	}
	return time.Time{}, false
}

// Watch polls p every interval for the rows q selects and calls fn, in
// order, with every change (see Diff and Watcher): the first poll, made at
// once, is the baseline and reports nothing. It runs in the calling
// goroutine and returns when:
//
//   - ctx is done: it returns ctx.Err();
//   - fn returns an error: it returns that error;
//   - Table fails: it returns the error, except that a poll failing with
//     ErrInconsistent is skipped (the next one retries);
//   - interval is not positive: it returns an error wrapping ErrInvalid.
//
// Use a Watcher directly to keep polling through errors or to read the
// current table between polls.
func Watch(ctx context.Context, p Provider, q Query, interval time.Duration, fn func(Event) error) error {
	if interval <= 0 {
		return fmt.Errorf("tcptable: watch interval %v: %w: must be positive", interval, ErrInvalid)
	}
	w := NewWatcher(p, q)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		events, err := w.Poll(ctx)
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
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
