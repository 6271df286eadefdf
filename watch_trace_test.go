package tcptable_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/providers/mock"
)

// fakeTracer is a scripted provider that traces: Table answers with rows
// (filtered by the query), and the test hands events to the running
// trace's fn itself, with emit, in its own goroutine, so that what a Poll
// sees is exact. plainTracer and readyTracer give it a Trace method, and a
// TraceReady for the second.
type fakeTracer struct {
	mu        sync.Mutex
	rows      []tcptable.Connection
	tables    int
	tableErrs []error // for the next Table calls
	during    func()  // runs inside the next Table call, before it reads rows
	startErr  error   // Trace returns it at once
	fn        func(tcptable.Event) error
	q         tcptable.Query
	live      chan struct{} // closed when fn is set
	end       chan error    // Trace returns what is sent here
	order     []string      // "trace" and "table", as they happened
	source    string
}

func newFake(rows ...tcptable.Connection) *fakeTracer {
	return &fakeTracer{rows: rows, live: make(chan struct{}), end: make(chan error, 1), source: "fake"}
}

func (f *fakeTracer) Table(ctx context.Context, q tcptable.Query) ([]tcptable.Connection, error) {
	f.mu.Lock()
	during := f.during
	f.during = nil
	f.mu.Unlock()
	if during != nil {
		during()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tables++
	f.order = append(f.order, "table")
	if len(f.tableErrs) > 0 {
		err := f.tableErrs[0]
		f.tableErrs = f.tableErrs[1:]
		if err != nil {
			return nil, err
		}
	}
	var out []tcptable.Connection
	for _, c := range f.rows {
		if q.Match(c) {
			out = append(out, c.Clone())
		}
	}
	return out, ctx.Err()
}

func (f *fakeTracer) Close() error { return nil }

// run is Trace: it fails with startErr, or makes fn available to emit,
// says it is ready, and returns when ctx ends or end says so.
func (f *fakeTracer) run(ctx context.Context, q tcptable.Query, ready func(string), fn func(tcptable.Event) error) error {
	if f.startErr != nil {
		return f.startErr
	}
	f.mu.Lock()
	f.fn, f.q = fn, q
	f.order = append(f.order, "trace")
	f.mu.Unlock()
	if ready != nil {
		ready(f.source)
	}
	close(f.live)
	select {
	case <-ctx.Done():
		return fmt.Errorf("fake: %w", ctx.Err())
	case err := <-f.end:
		return err
	}
}

// set replaces what Table answers.
func (f *fakeTracer) set(rows ...tcptable.Connection) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rows = rows
}

// emit hands events to the running trace, as the OS would.
func (f *fakeTracer) emit(t *testing.T, events ...tcptable.Event) {
	t.Helper()
	<-f.live
	f.mu.Lock()
	fn := f.fn
	f.mu.Unlock()
	for _, e := range events {
		require.NoError(t, fn(e))
	}
}

func (f *fakeTracer) tableCalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tables
}

// plainTracer is a Tracer that does not say when it is live.
type plainTracer struct{ *fakeTracer }

func (p plainTracer) Trace(ctx context.Context, q tcptable.Query, fn func(tcptable.Event) error) error {
	return p.run(ctx, q, nil, fn)
}

// readyTracer is a ReadyTracer.
type readyTracer struct{ *fakeTracer }

func (r readyTracer) Trace(ctx context.Context, q tcptable.Query, fn func(tcptable.Event) error) error {
	return r.run(ctx, q, nil, fn)
}

func (r readyTracer) TraceReady(ctx context.Context, q tcptable.Query, ready func(string), fn func(tcptable.Event) error) error {
	return r.run(ctx, q, ready, fn)
}

// Events as a tracer reports them, at a given time.
func opened(c tcptable.Connection, at time.Time) tcptable.Event {
	return tcptable.Event{Kind: tcptable.EventOpened, Key: c.Key(), After: c, Time: at}
}

func closed(c tcptable.Connection, at time.Time) tcptable.Event {
	return tcptable.Event{Kind: tcptable.EventClosed, Key: c.Key(), Before: c, Time: at}
}

func changed(kind tcptable.EventKind, before, after tcptable.Connection, at time.Time) tcptable.Event {
	return tcptable.Event{Kind: kind, Key: after.Key(), Before: before, After: after, Time: at}
}

func lost(n uint64, at time.Time) tcptable.Event {
	return tcptable.Event{Kind: tcptable.EventLost, Lost: n, Time: at}
}

// port returns est on another local port: a distinct connection.
func port(c tcptable.Connection, p uint16) tcptable.Connection {
	return with(c, func(c *tcptable.Connection) { c.Local = netip.AddrPortFrom(c.Local.Addr(), p) })
}

// startTraced starts a Watcher over p with a fake clock and closes it at
// the end of the test.
func startTraced(t *testing.T, p tcptable.Provider, opts ...tcptable.WatcherOption) *tcptable.Watcher {
	t.Helper()
	clk := &clock{t: t0}
	w := tcptable.NewWatcher(p, tcptable.Query{}, append([]tcptable.WatcherOption{tcptable.WithClock(clk.now)}, opts...)...)
	t.Cleanup(func() { require.NoError(t, w.Close()) })
	require.NoError(t, w.Start(context.Background()))
	return w
}

// poll polls w and fails the test on an error.
func poll(t *testing.T, w *tcptable.Watcher) []tcptable.Event {
	t.Helper()
	ev, err := w.Poll(context.Background())
	require.NoError(t, err)
	return slices.Clone(ev)
}

// at returns t0 plus ms milliseconds: a traced event's time.
func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

func TestWatcherTraced(t *testing.T) {
	f := newFake(lsn)
	w := startTraced(t, readyTracer{f})
	assert.Equal(t, tcptable.WatchSource{Traced: true, Name: "fake"}, w.Source())
	assert.Equal(t, "trace (fake)", w.Source().String())
	assert.Equal(t, []string{"trace", "table"}, f.order, "the trace is live before the baseline is taken")
	require.Len(t, w.Table(), 1)
	baseline := w.Table()[0].FirstSeen
	assert.Equal(t, w.PolledAt(), baseline)
	assert.Empty(t, poll(t, w), "nothing traced, nothing reported")

	// A connection that lives two milliseconds between two polls.
	fin := with(est, func(c *tcptable.Connection) { c.State = tcptable.StateFinWait1 })
	f.emit(t, opened(est, at(1)), changed(tcptable.EventStateChanged, est, fin, at(2)), closed(fin, at(3)))
	ev := poll(t, w)
	require.Equal(t, []string{"opened " + est.Key().String(), "state-changed " + est.Key().String(), "closed " + est.Key().String()}, kinds(ev))
	assert.Equal(t, at(1), ev[0].Time, "traced events keep the OS's time")
	assert.Equal(t, at(1), ev[0].After.FirstSeen, "first seen when the OS opened it")
	assert.Equal(t, at(1), ev[1].Before.FirstSeen)
	assert.Equal(t, tcptable.StateFinWait1, ev[1].After.State)
	assert.Equal(t, at(3), ev[2].Time)
	assert.Equal(t, tcptable.StateFinWait1, ev[2].Before.State, "closed from its last state")
	_, ok := w.FirstSeen(est.Key())
	assert.False(t, ok)

	// The listener changes owner: only the owner fields move.
	handed := with(lsn, func(c *tcptable.Connection) { c.PID, c.Module.Name = 11, "srv2" })
	f.emit(t, changed(tcptable.EventOwnerChanged, lsn, handed, at(4)))
	ev = poll(t, w)
	require.Equal(t, []string{"owner-changed " + lsn.Key().String()}, kinds(ev))
	assert.Equal(t, uint32(10), ev[0].Before.PID)
	assert.Equal(t, uint32(11), ev[0].After.PID)
	assert.Equal(t, baseline, ev[0].After.FirstSeen, "FirstSeen survives an owner change")
	assert.Equal(t, 1, f.tableCalls(), "a trace needs no snapshot beyond the baseline")
}

// TestWatcherTraceReconciles feeds events that do not fit the view, as a
// trace that races a snapshot delivers them, and checks that the Watcher
// reports exactly the changes of its view: Diff's kinds in Diff's order.
func TestWatcherTraceReconciles(t *testing.T) {
	fin := with(est, func(c *tcptable.Connection) { c.State = tcptable.StateFinWait1 })
	timeWait := with(est, func(c *tcptable.Connection) {
		c.State, c.PID, c.Module, c.OwnerStatus = tcptable.StateTimeWait, 0, tcptable.Module{}, tcptable.OwnerKernel
	})
	tests := []struct {
		name   string
		events []tcptable.Event
		want   []string // kinds
		table  []tcptable.Connection
	}{
		{"duplicate open changes nothing", []tcptable.Event{opened(lsn, at(1))}, nil, []tcptable.Connection{lsn}},
		{"close of an unknown row", []tcptable.Event{closed(est, at(1))}, nil, []tcptable.Connection{lsn}},
		{"change of an unknown row opens it", []tcptable.Event{changed(tcptable.EventStateChanged, est, fin, at(1))},
			[]string{"opened " + est.Key().String()}, []tcptable.Connection{lsn, fin}},
		{"repeated state change", []tcptable.Event{opened(est, at(1)), changed(tcptable.EventStateChanged, est, fin, at(2)), changed(tcptable.EventStateChanged, est, fin, at(3))},
			[]string{"opened " + est.Key().String(), "state-changed " + est.Key().String()}, []tcptable.Connection{lsn, fin}},
		{"skipped state: the view's state is Before", []tcptable.Event{opened(est, at(1)), changed(tcptable.EventStateChanged, fin, timeWait, at(2))},
			[]string{"opened " + est.Key().String(), "state-changed " + est.Key().String()}, nil},
		{"time-wait: state then owner", []tcptable.Event{opened(est, at(1)),
			changed(tcptable.EventStateChanged, est, timeWait, at(2)), changed(tcptable.EventOwnerChanged, est, timeWait, at(2))},
			[]string{"opened " + est.Key().String(), "state-changed " + est.Key().String(), "owner-changed " + est.Key().String()},
			[]tcptable.Connection{lsn, timeWait}},
		{"reopened: a new connection on the same tuple", []tcptable.Event{opened(est, at(1)), closed(est, at(2)), opened(est, at(3))},
			[]string{"opened " + est.Key().String(), "closed " + est.Key().String(), "opened " + est.Key().String()},
			[]tcptable.Connection{lsn, est}},
		{"open with other owners replaces the row", []tcptable.Event{opened(with(lsn, func(c *tcptable.Connection) { c.OtherPIDs = []uint32{12} }), at(1))},
			[]string{"owner-changed " + lsn.Key().String()}, nil},
		{"lost", []tcptable.Event{lost(7, at(1)), opened(est, at(2))}, []string{"lost "}, []tcptable.Connection{lsn}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(lsn)
			w := startTraced(t, readyTracer{f})
			f.emit(t, tt.events...)
			ev := poll(t, w)
			got := kinds(ev)
			for i := range got {
				if ev[i].Kind == tcptable.EventLost {
					got[i] = "lost "
				}
			}
			assert.Equal(t, tt.want, got)
			for _, e := range ev {
				if e.Kind != tcptable.EventLost {
					assert.Equal(t, e.Key, e.Row().Key())
				}
			}
			if tt.table != nil {
				assertSameTable(t, tt.table, w.Table())
			}
		})
	}
}

// assertSameTable checks that got has the rows of want, by Key, with the
// same state and owners, in any order.
func assertSameTable(t *testing.T, want, got []tcptable.Connection) {
	t.Helper()
	assert.Empty(t, kinds(tcptable.Diff(want, got)), "the view differs from the table")
	assert.Len(t, got, len(want))
}

// TestWatcherTraceBaselineRace: events delivered while the baseline is
// read are reconciled with it; a connection that opened after the
// snapshot read its part of the table is reported, one it showed is not
// reported twice.
func TestWatcherTraceBaselineRace(t *testing.T) {
	f := newFake(lsn, v6)
	early, late := port(est, 41000), port(est, 42000)
	f.during = func() {
		// early opened before the snapshot read it; late after.
		f.emit(t, opened(early, at(1)), opened(late, at(2)), closed(v6, at(3)))
		f.set(lsn, v6, early)
	}
	w := startTraced(t, readyTracer{f})
	ev := poll(t, w)
	assert.Equal(t, []string{"opened " + late.Key().String(), "closed " + v6.Key().String()}, kinds(ev))
	assertSameTable(t, []tcptable.Connection{lsn, early, late}, w.Table())
}

// TestWatcherTraceSnapshotDiscards: events that came before a snapshot
// are shown by it, and not applied on top of it, where they would take
// the view back to an older state.
func TestWatcherTraceSnapshotDiscards(t *testing.T) {
	fin1 := with(est, func(c *tcptable.Connection) { c.State = tcptable.StateFinWait1 })
	fin2 := with(est, func(c *tcptable.Connection) { c.State = tcptable.StateFinWait2 })
	f := newFake(lsn, est)
	w := startTraced(t, readyTracer{f})
	f.emit(t, lost(1, at(1)))
	require.Equal(t, []tcptable.EventKind{tcptable.EventLost}, eventKinds(poll(t, w)))
	f.emit(t, changed(tcptable.EventStateChanged, est, fin1, at(2))) // then FIN-WAIT-2, lost
	f.set(lsn, fin2)
	ev := poll(t, w)
	require.Equal(t, []string{"state-changed " + est.Key().String()}, kinds(ev))
	assert.Equal(t, tcptable.StateEstablished, ev[0].Before.State)
	assert.Equal(t, tcptable.StateFinWait2, ev[0].After.State)
	assert.Empty(t, poll(t, w))
}

// eventKinds lists the kinds of events.
func eventKinds(events []tcptable.Event) []tcptable.EventKind {
	out := make([]tcptable.EventKind, len(events))
	for i, e := range events {
		out[i] = e.Kind
	}
	return out
}

func TestWatcherTraceLost(t *testing.T) {
	for _, tt := range []struct {
		name  string
		opts  []tcptable.WatcherOption
		emit  func(f *fakeTracer) []tcptable.Event
		lost  uint64
		early []string // reported before the loss
	}{
		{"the tracer reports it", nil, func(*fakeTracer) []tcptable.Event {
			return []tcptable.Event{opened(est, at(1)), lost(3, at(2)), opened(v6, at(3))}
		}, 3, []string{"opened " + est.Key().String()}},
		{"the tracer does not know how many", nil, func(*fakeTracer) []tcptable.Event {
			return []tcptable.Event{lost(0, at(2))}
		}, 0, nil},
		{"more than the Watcher holds", []tcptable.WatcherOption{tcptable.WithTraceBuffer(2)}, func(*fakeTracer) []tcptable.Event {
			return []tcptable.Event{opened(est, at(1)), opened(port(est, 41000), at(2)), opened(port(est, 41001), at(3)), opened(v6, at(4)), lost(5, at(5))}
		}, 7, []string{"opened " + est.Key().String(), "opened " + port(est, 41000).Key().String()}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(lsn)
			w := startTraced(t, readyTracer{f}, tt.opts...)
			f.set(est, v6) // the truth: lsn closed, est and v6 opened
			f.emit(t, tt.emit(f)...)
			ev := poll(t, w)
			require.Len(t, ev, len(tt.early)+1)
			assert.Equal(t, tt.early, kinds(ev[:len(tt.early)]))
			loss := ev[len(ev)-1]
			assert.Equal(t, tcptable.EventLost, loss.Kind, "the loss is reported, never silent")
			assert.Equal(t, tt.lost, loss.Lost)
			assert.False(t, loss.Time.IsZero())
			assert.Equal(t, 1, f.tableCalls(), "the resync waits for the next Poll")

			view := slices.Clone(w.Table())
			ev = poll(t, w)
			assert.Equal(t, 2, f.tableCalls(), "a snapshot resynchronises")
			want := kinds(tcptable.Diff(view, []tcptable.Connection{est, v6}))
			assert.NotEmpty(t, want)
			assert.Equal(t, want, kinds(ev), "what changed meanwhile, as ordinary events")
			for _, e := range ev {
				assert.Equal(t, w.PolledAt(), e.Time)
			}
			assertSameTable(t, []tcptable.Connection{est, v6}, w.Table())

			f.emit(t, closed(v6, at(9)))
			assert.Equal(t, []string{"closed " + v6.Key().String()}, kinds(poll(t, w)), "then the trace goes on")
			assert.Equal(t, 2, f.tableCalls())
		})
	}
}

// TestWatcherTraceResyncFails: a failed resynchronisation is reported and
// retried, and the events that came meanwhile are not reported on top.
func TestWatcherTraceResyncFails(t *testing.T) {
	f := newFake(lsn)
	w := startTraced(t, readyTracer{f})
	f.emit(t, lost(1, at(1)))
	require.Equal(t, tcptable.EventLost, poll(t, w)[0].Kind)
	boom := errors.New("boom")
	f.tableErrs = []error{boom}
	f.set(lsn, est)
	f.emit(t, opened(est, at(2)))
	_, err := w.Poll(context.Background())
	require.ErrorIs(t, err, boom)
	f.emit(t, opened(v6, at(3)))
	f.set(lsn, est, v6)
	assert.Equal(t, kinds(tcptable.Diff([]tcptable.Connection{lsn}, []tcptable.Connection{lsn, est, v6})), kinds(poll(t, w)))
}

func TestWatcherTraceFallback(t *testing.T) {
	notHere := fmt.Errorf("fake: trace: %w: needs CAP_BPF", tcptable.ErrNotSupported)
	for _, tt := range []struct {
		name   string
		p      func(f *fakeTracer) tcptable.Provider
		opts   []tcptable.WatcherOption
		reason string
	}{
		{"ready tracer not supported", func(f *fakeTracer) tcptable.Provider { f.startErr = notHere; return readyTracer{f} }, nil, notHere.Error()},
		{"plain tracer not supported", func(f *fakeTracer) tcptable.Provider { f.startErr = notHere; return plainTracer{f} }, nil, notHere.Error()},
		{"permission", func(f *fakeTracer) tcptable.Provider {
			f.startErr = fmt.Errorf("fake: %w", tcptable.ErrPermission)
			return readyTracer{f}
		}, nil, "permission denied"},
		{"turned off", func(f *fakeTracer) tcptable.Provider { return readyTracer{f} }, []tcptable.WatcherOption{tcptable.WithoutTrace()}, "tracing turned off"},
		{"no tracer", func(f *fakeTracer) tcptable.Provider { return f }, nil, "*tcptable_test.fakeTracer has no kernel events"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(lsn)
			w := startTraced(t, tt.p(f), tt.opts...)
			f.set(lsn, est)
			// A plain Tracer's failure may show only at a later Poll.
			var ev []tcptable.Event
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
				ev = append(ev, poll(t, w)...)
				if !w.Source().Traced || time.Now().After(deadline) {
					break
				}
			}
			assert.Equal(t, []string{"opened " + est.Key().String()}, kinds(ev), "the Watcher polls")
			src := w.Source()
			assert.False(t, src.Traced)
			assert.Equal(t, "poll", src.Name)
			assert.Contains(t, src.Reason, tt.reason)
		})
	}
}

func TestWatcherTraceErrors(t *testing.T) {
	broken := errors.New("fake: ring buffer: bad record")
	t.Run("cannot start", func(t *testing.T) {
		f := newFake(lsn)
		f.startErr = broken
		w := tcptable.NewWatcher(readyTracer{f}, tcptable.Query{})
		err := w.Start(context.Background())
		assert.ErrorIs(t, err, broken)
		assert.Zero(t, f.tableCalls())
		err = tcptable.Watch(context.Background(), readyTracer{f}, tcptable.Query{}, time.Hour, func(tcptable.Event) error { return nil })
		assert.ErrorIs(t, err, broken)
	})
	t.Run("ends after events", func(t *testing.T) {
		f := newFake(lsn)
		w := startTraced(t, readyTracer{f})
		f.emit(t, opened(est, at(1)))
		f.end <- broken
		f.set(lsn, est, v6)
		var ev []tcptable.Event
		var err error
		for err == nil && len(ev) == 0 { // the events come first, however the goroutines run
			ev, err = w.Poll(context.Background())
		}
		require.NoError(t, err)
		assert.Equal(t, []string{"opened " + est.Key().String()}, kinds(ev))
		for err == nil {
			ev, err = w.Poll(context.Background())
			require.Empty(t, ev)
		}
		assert.ErrorIs(t, err, broken)
		assert.Equal(t, "poll", w.Source().Name)
		assert.Contains(t, w.Source().Reason, broken.Error())
		assert.Equal(t, []string{"opened " + v6.Key().String()}, kinds(poll(t, w)), "then it polls, from the view it had")
	})
	t.Run("context ends while waiting for the trace", func(t *testing.T) {
		f := newFake(lsn)
		hang := &hangingTracer{f}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
		defer cancel()
		err := tcptable.NewWatcher(hang, tcptable.Query{}).Start(ctx)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
	})
}

// hangingTracer is a ReadyTracer that never gets ready.
type hangingTracer struct{ *fakeTracer }

func (h *hangingTracer) Trace(ctx context.Context, q tcptable.Query, fn func(tcptable.Event) error) error {
	return h.TraceReady(ctx, q, nil, fn)
}

func (h *hangingTracer) TraceReady(ctx context.Context, _ tcptable.Query, _ func(string), _ func(tcptable.Event) error) error {
	<-ctx.Done()
	return ctx.Err()
}

// TestWatcherPlainTracer: a Tracer that does not say when it is live gets
// a second snapshot one interval after the trace started, which reports
// what happened before the trace caught it; its events are reported
// meanwhile.
func TestWatcherPlainTracer(t *testing.T) {
	f := newFake(lsn)
	const interval = 200 * time.Millisecond
	start := time.Now()
	w := startTraced(t, plainTracer{f}, tcptable.WithInterval(interval))
	assert.Equal(t, tcptable.WatchSource{Traced: true, Name: "trace"}, w.Source())
	f.set(lsn, est, v6) // est and v6 opened before the trace was live: no event
	f.emit(t, closed(v6, at(1)))
	ev, err := w.Next(context.Background())
	require.NoError(t, err)
	assert.Empty(t, ev, "a close of a connection the view does not hold changes nothing")
	if time.Since(start) < interval { // else the machine is too slow to tell
		assert.Equal(t, 1, f.tableCalls(), "the event did not wait for the second snapshot")
	}
	f.set(lsn, est)
	for f.tableCalls() < 2 {
		ev, err = w.Next(context.Background())
		require.NoError(t, err)
	}
	assert.GreaterOrEqual(t, time.Since(start), interval)
	assert.Equal(t, []string{"opened " + est.Key().String()}, kinds(ev))
	f.emit(t, closed(est, at(5)))
	ev, err = w.Next(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []string{"closed " + est.Key().String()}, kinds(ev))
	assert.Equal(t, 2, f.tableCalls(), "one second snapshot only")
}

// TestWatcherTraceQuery: the trace is asked for the Watcher's query, and
// a change that takes a row out of the query closes it in the view (a
// tracer may report it either way).
func TestWatcherTraceQuery(t *testing.T) {
	f := newFake(lsn, est)
	q := tcptable.Query{States: []tcptable.State{tcptable.StateEstablished}}
	w := tcptable.NewWatcher(readyTracer{f}, q)
	defer w.Close()
	require.NoError(t, w.Start(context.Background()))
	assert.Equal(t, q, f.q)
	require.Len(t, w.Table(), 1)
	fin := with(est, func(c *tcptable.Connection) { c.State = tcptable.StateFinWait1 })
	f.emit(t, changed(tcptable.EventStateChanged, est, fin, at(1)), opened(port(lsn, 9000), at(2)), changed(tcptable.EventStateChanged, fin, est, at(3)))
	ev := poll(t, w)
	assert.Equal(t, []string{"closed " + est.Key().String(), "opened " + est.Key().String()}, kinds(ev))
}

// TestWatchTraced: Watch reports a connection that lives between two
// polls of an hour.
func TestWatchTraced(t *testing.T) {
	f := newFake(lsn)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var got []tcptable.Event
	f.during = func() {
		// Once the baseline is being read, the trace is live.
		go f.emit(t, opened(est, at(1)), closed(est, at(2)))
	}
	stop := errors.New("stop")
	err := tcptable.Watch(ctx, readyTracer{f}, tcptable.Query{}, time.Hour, func(e tcptable.Event) error {
		got = append(got, e)
		if len(got) == 2 {
			return stop
		}
		return nil
	})
	require.ErrorIs(t, err, stop)
	assert.Equal(t, []string{"opened " + est.Key().String(), "closed " + est.Key().String()}, kinds(got))
	assert.Equal(t, 1, f.tableCalls())
	select {
	case <-ctx.Done():
		t.Fatal("Watch took the whole minute")
	default:
	}
}

// TestWatcherTraceReusesBuffers: a steady traced Poll allocates nothing:
// the queue, the batch, the view and the event buffer are reused.
func TestWatcherTraceReusesBuffers(t *testing.T) {
	f := newFake(lsn)
	w := startTraced(t, readyTracer{f})
	conns := make([]tcptable.Connection, 100)
	for i := range conns {
		conns[i] = port(est, uint16(41000+i))
	}
	cycle := func() {
		for _, c := range conns {
			f.emit(t, opened(c, at(1)))
		}
		for _, c := range conns {
			f.emit(t, closed(c, at(2)))
		}
		if ev, err := w.Poll(context.Background()); err != nil || len(ev) != 2*len(conns) {
			t.Fatalf("Poll: %d events, %v", len(ev), err)
		}
	}
	for range 3 {
		cycle()
	}
	assert.Zero(t, testing.AllocsPerRun(20, cycle))
}

// BenchmarkWatcherTrace measures the traced path: a trace delivers an
// opened and a closed event per connection, and the Watcher applies them
// to its view of a 10,000-row table, a Poll per 100 connections.
func BenchmarkWatcherTrace(b *testing.B) {
	rows := make([]tcptable.Connection, 10000)
	for i := range rows {
		rows[i] = with(est, func(c *tcptable.Connection) {
			c.Local = netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), uint16(1024+i))
		})
	}
	f := newFake(rows...)
	w := tcptable.NewWatcher(readyTracer{f}, tcptable.Query{})
	defer w.Close()
	if err := w.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	<-f.live
	fn := f.fn
	conns := make([]tcptable.Connection, 100)
	for i := range conns {
		conns[i] = port(est, uint16(41000+i))
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		c := conns[n%len(conns)]
		_ = fn(opened(c, at(1)))
		_ = fn(closed(c, at(2)))
		if n++; n%100 == 0 {
			if _, err := w.Poll(context.Background()); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// TestWatcherFollowsMock: a traced Watcher over the mock, through random
// edits, some of whose events are lost, reports for each edit exactly
// Diff's events between the tables before and after it (per connection,
// in Diff's order), or the loss and then what a snapshot shows; and its
// view stays the table.
func TestWatcherFollowsMock(t *testing.T) {
	for _, q := range []tcptable.Query{
		{},
		{Class: tcptable.ClassConnections, Owners: tcptable.OwnerPIDs},
		{States: []tcptable.State{tcptable.StateEstablished, tcptable.StateListen}, Family: tcptable.IPv4},
		{PID: 20},
	} {
		t.Run(fmt.Sprintf("%+v", q), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, uint64(len(t.Name()))))
			p := mock.New(lsn, est, v6)
			w := tcptable.NewWatcher(p, q)
			defer w.Close()
			ctx := context.Background()
			require.NoError(t, w.Start(ctx))
			require.True(t, w.Source().Traced)
			states := []tcptable.State{tcptable.StateSynSent, tcptable.StateEstablished, tcptable.StateFinWait1, tcptable.StateCloseWait, tcptable.StateListen}
			conn := func() tcptable.Connection {
				c := port(est, uint16(41000+rng.IntN(40)))
				if rng.IntN(4) == 0 {
					c = port(lsn, uint16(9000+rng.IntN(5)))
					c.Socket = uint64(rng.IntN(3) + 1)
				}
				c.PID = uint32(19 + rng.IntN(3))
				return c
			}
			losses, events := 0, 0
			for step := range 400 {
				before, err := p.Table(ctx, q)
				require.NoError(t, err)
				if rng.IntN(15) == 0 {
					p.LoseEvents(1 + rng.IntN(3))
				}
				rows := p.Rows()
				switch r := rng.IntN(10); {
				case r < 4 || len(rows) == 0:
					p.Add(conn())
				case r < 6:
					p.Remove(rows[rng.IntN(len(rows))].Key())
				case r < 8:
					p.SetState(rows[rng.IntN(len(rows))].Key(), states[rng.IntN(len(states))])
				default:
					p.Update(rows[rng.IntN(len(rows))].Key(), func(c *tcptable.Connection) { c.PID = uint32(19 + rng.IntN(3)) })
				}
				p.Flush()
				after, err := p.Table(ctx, q)
				require.NoError(t, err)
				ev := poll(t, w)
				events += len(ev)
				if i := slices.IndexFunc(ev, func(e tcptable.Event) bool { return e.Kind == tcptable.EventLost }); i >= 0 {
					require.Equal(t, len(ev)-1, i, "step %d: nothing is reported after a loss until the snapshot: %v", step, kinds(ev))
					losses++
					poll(t, w) // the snapshot
				} else {
					want := tcptable.Diff(before, after)
					assert.Equal(t, kinds(want), kinds(byKey(ev, want)), "step %d", step)
				}
				assertSameTable(t, after, w.Table())
				for _, c := range w.Table() {
					require.False(t, c.FirstSeen.IsZero())
				}
			}
			assert.Positive(t, losses, "some events were lost")
			assert.Greater(t, events, 100)
		})
	}
}

// byKey orders events as want (Diff's answer) orders their Keys, keeping
// their own order per Key.
func byKey(events, want []tcptable.Event) []tcptable.Event {
	rank := map[tcptable.Key]int{}
	for i, e := range want {
		if _, ok := rank[e.Key]; !ok {
			rank[e.Key] = i
		}
	}
	slices.SortStableFunc(events, func(a, b tcptable.Event) int { return rank[a.Key] - rank[b.Key] })
	return events
}
