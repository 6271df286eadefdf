package tcptable_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/internal/nativetest"
	"github.com/tcptable/tcptable/providers/mock"
)

var (
	lsn = tcptable.Connection{
		State: tcptable.StateListen, Local: netip.MustParseAddrPort("127.0.0.1:8080"), Remote: netip.MustParseAddrPort("0.0.0.0:0"),
		PID: 10, OwnerStatus: tcptable.OwnerOK, Module: tcptable.Module{Name: "srv"}, Socket: 100,
	}
	est = tcptable.Connection{
		State: tcptable.StateEstablished, Local: netip.MustParseAddrPort("127.0.0.1:40000"), Remote: netip.MustParseAddrPort("127.0.0.1:8080"),
		PID: 20, OwnerStatus: tcptable.OwnerOK, Module: tcptable.Module{Name: "cli"}, Socket: 200,
	}
	v6 = tcptable.Connection{
		State: tcptable.StateEstablished, Local: netip.MustParseAddrPort("[::1]:8080"), Remote: netip.MustParseAddrPort("[::1]:50000"),
		PID: 10, OwnerStatus: tcptable.OwnerOK, Module: tcptable.Module{Name: "srv"}, Socket: 300,
	}
)

// with returns a copy of c changed by f.
func with(c tcptable.Connection, f func(*tcptable.Connection)) tcptable.Connection {
	c = c.Clone()
	f(&c)
	return c
}

// kinds lists the events as "kind key" strings, for compact assertions.
func kinds(events []tcptable.Event) []string {
	var out []string
	for _, e := range events {
		out = append(out, e.Kind.String()+" "+e.Key.String())
	}
	return out
}

func TestDiff(t *testing.T) {
	timeWait := with(est, func(c *tcptable.Connection) {
		c.State, c.PID, c.Module, c.OwnerStatus, c.Socket = tcptable.StateTimeWait, 0, tcptable.Module{}, tcptable.OwnerKernel, 0
	})
	reuse := with(lsn, func(c *tcptable.Connection) { c.Socket = 101; c.PID = 11 })
	tests := []struct {
		name       string
		prev, next []tcptable.Connection
		want       []string
	}{
		{"empty", nil, nil, nil},
		{"unchanged", []tcptable.Connection{lsn, est}, []tcptable.Connection{est, lsn}, nil},
		{"opened", []tcptable.Connection{lsn}, []tcptable.Connection{lsn, est},
			[]string{"opened " + est.Key().String()}},
		{"closed", []tcptable.Connection{lsn, est}, []tcptable.Connection{est},
			[]string{"closed " + lsn.Key().String()}},
		{"state and owner", []tcptable.Connection{est}, []tcptable.Connection{timeWait},
			[]string{"state-changed " + est.Key().String(), "owner-changed " + est.Key().String()}},
		{"other pids", []tcptable.Connection{lsn}, []tcptable.Connection{with(lsn, func(c *tcptable.Connection) { c.OtherPIDs = []uint32{12} })},
			[]string{"owner-changed " + lsn.Key().String()}},
		{"module path", []tcptable.Connection{lsn}, []tcptable.Connection{with(lsn, func(c *tcptable.Connection) { c.Module.Path = "/srv" })},
			[]string{"owner-changed " + lsn.Key().String()}},
		{"other fields ignored", []tcptable.Connection{lsn}, []tcptable.Connection{with(lsn, func(c *tcptable.Connection) {
			c.OSState, c.UID, c.HasUID, c.Interface, c.OwnerStatus = 10, 1, true, 2, tcptable.OwnerUnknown
		})}, nil},
		{"reuseport listeners are distinct", []tcptable.Connection{lsn}, []tcptable.Connection{lsn, reuse},
			[]string{"opened " + reuse.Key().String()}},
		{"sorted by key then kind", []tcptable.Connection{v6, est}, []tcptable.Connection{lsn, timeWait},
			[]string{"opened " + lsn.Key().String(), "state-changed " + est.Key().String(),
				"owner-changed " + est.Key().String(), "closed " + v6.Key().String()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tcptable.Diff(tt.prev, tt.next)
			assert.Equal(t, tt.want, kinds(got))
			for _, e := range got {
				assert.True(t, e.Time.IsZero())
				switch e.Kind {
				case tcptable.EventOpened:
					assert.Equal(t, tcptable.Connection{}, e.Before)
					assert.Equal(t, e.Key, e.After.Key())
				case tcptable.EventClosed:
					assert.Equal(t, tcptable.Connection{}, e.After)
					assert.Equal(t, e.Key, e.Before.Key())
				default:
					assert.Equal(t, e.Key, e.Before.Key())
					assert.Equal(t, e.Key, e.After.Key())
				}
			}
		})
	}
}

func TestDiffDeterministic(t *testing.T) {
	var prev, next []tcptable.Connection
	for i := range 200 {
		c := with(est, func(c *tcptable.Connection) { c.Local = netip.AddrPortFrom(c.Local.Addr(), uint16(1000+i)) })
		if i%3 != 0 {
			prev = append(prev, c)
		}
		if i%5 == 0 {
			c.State = tcptable.StateFinWait1
		}
		if i%3 != 1 {
			next = append(next, c)
		}
	}
	want := tcptable.Diff(prev, next)
	require.NotEmpty(t, want)
	for range 5 {
		rand.Shuffle(len(prev), func(i, j int) { prev[i], prev[j] = prev[j], prev[i] })
		rand.Shuffle(len(next), func(i, j int) { next[i], next[j] = next[j], next[i] })
		assert.Equal(t, want, tcptable.Diff(prev, next))
	}
}

func TestEventJSON(t *testing.T) {
	for _, e := range tcptable.Diff([]tcptable.Connection{est, v6}, []tcptable.Connection{lsn, with(est, func(c *tcptable.Connection) { c.State = tcptable.StateCloseWait })}) {
		e.Time = time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)
		b, err := json.Marshal(e)
		require.NoError(t, err)
		var back tcptable.Event
		require.NoError(t, json.Unmarshal(b, &back), "%s", b)
		assert.Equal(t, e, back, "%s", b)
		var raw map[string]any
		require.NoError(t, json.Unmarshal(b, &raw))
		assert.Equal(t, e.Kind.String(), raw["event"])
		assert.Equal(t, e.Kind == tcptable.EventOpened, raw["before"] == nil, "%s", b)
		assert.Equal(t, e.Kind == tcptable.EventClosed, raw["after"] == nil, "%s", b)
	}
	var e tcptable.Event
	assert.ErrorIs(t, json.Unmarshal([]byte(`{"event":"exploded"}`), &e), tcptable.ErrInvalid)
	assert.ErrorIs(t, json.Unmarshal([]byte(`{"event":""}`), &e), tcptable.ErrInvalid)
}

func TestEventString(t *testing.T) {
	got := tcptable.Diff([]tcptable.Connection{est}, []tcptable.Connection{with(est, func(c *tcptable.Connection) { c.State = tcptable.StateTimeWait; c.PID = 0 })})
	require.Len(t, got, 2)
	assert.Equal(t, "state-changed 127.0.0.1:40000 127.0.0.1:8080 ESTABLISHED -> TIME-WAIT", got[0].String())
	assert.Equal(t, `owner-changed 127.0.0.1:40000 127.0.0.1:8080 pid 20 "cli" -> pid 0 "cli"`, got[1].String())
	assert.Equal(t, `closed 127.0.0.1:40000 127.0.0.1:8080 ESTABLISHED pid 20 "cli"`, tcptable.Diff([]tcptable.Connection{est}, nil)[0].String())
	assert.Equal(t, "EventKind(9)", tcptable.EventKind(9).String())
}

// scripted is a Provider that answers each Table call with the next entry of
// a script (a table or an error), repeating the last entry at the end. It
// returns fresh copies, as real providers do.
type scripted struct {
	steps []step
	calls int
}

type step struct {
	rows []tcptable.Connection
	err  error
}

func (s *scripted) Table(ctx context.Context, q tcptable.Query) ([]tcptable.Connection, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	st := s.steps[min(s.calls, len(s.steps)-1)]
	s.calls++
	rows := make([]tcptable.Connection, 0, len(st.rows))
	for _, c := range st.rows {
		if q.Match(c) {
			rows = append(rows, c.Clone())
		}
	}
	return rows, st.err
}

func (s *scripted) Close() error { return nil }

// clock is a fake time source that advances one second a reading.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { c.t = c.t.Add(time.Second); return c.t }

var t0 = time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)

func TestWatcherPoll(t *testing.T) {
	p := mock.New(lsn)
	clk := &clock{t: t0}
	w := tcptable.NewWatcher(p, tcptable.Query{}, tcptable.WithClock(clk.now))
	assert.Nil(t, w.Table())
	assert.True(t, w.PolledAt().IsZero())
	_, ok := w.FirstSeen(lsn.Key())
	assert.False(t, ok)
	ctx := context.Background()
	poll := func() []tcptable.Event {
		t.Helper()
		ev, err := w.Poll(ctx)
		require.NoError(t, err)
		return ev
	}
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }

	assert.Empty(t, poll(), "the baseline reports nothing")
	assert.Equal(t, at(1), w.PolledAt())
	require.Len(t, w.Table(), 1)
	assert.Equal(t, at(1), w.Table()[0].FirstSeen)

	p.Add(est)
	ev := poll()
	assert.Equal(t, []string{"opened " + est.Key().String()}, kinds(ev))
	assert.Equal(t, at(2), ev[0].Time)
	assert.Equal(t, at(2), ev[0].After.FirstSeen)

	boom := errors.New("boom")
	p.FailNext(boom, fmt.Errorf("linux: %w", tcptable.ErrInconsistent))
	p.Remove(lsn.Key())
	_, err := w.Poll(ctx)
	assert.ErrorIs(t, err, boom)
	_, err = w.Poll(ctx)
	assert.ErrorIs(t, err, tcptable.ErrInconsistent)
	assert.Len(t, w.Table(), 2, "a failed poll keeps the last good snapshot")
	assert.Equal(t, at(2), w.PolledAt())
	p.Add(lsn)

	p.SetState(est.Key(), tcptable.StateFinWait1)
	ev = poll()
	require.Equal(t, []string{"state-changed " + est.Key().String()}, kinds(ev))
	assert.Equal(t, tcptable.StateEstablished, ev[0].Before.State)
	assert.Equal(t, tcptable.StateFinWait1, ev[0].After.State)
	assert.Equal(t, at(2), ev[0].Before.FirstSeen)
	assert.Equal(t, at(2), ev[0].After.FirstSeen, "FirstSeen survives a state change")
	assert.Equal(t, at(3), ev[0].Time)

	p.Update(est.Key(), func(c *tcptable.Connection) { c.PID, c.Module.Name = 21, "cli2" })
	ev = poll()
	require.Equal(t, []string{"owner-changed " + est.Key().String()}, kinds(ev))
	assert.Equal(t, uint32(20), ev[0].Before.PID)
	assert.Equal(t, uint32(21), ev[0].After.PID)
	assert.Equal(t, at(2), ev[0].After.FirstSeen, "FirstSeen survives an owner change")

	p.Remove(lsn.Key())
	p.Add(v6)
	ev = poll()
	assert.Equal(t, []string{"closed " + lsn.Key().String(), "opened " + v6.Key().String()}, kinds(ev))
	assert.Equal(t, at(1), ev[0].Before.FirstSeen)
	fs, ok := w.FirstSeen(est.Key())
	assert.True(t, ok)
	assert.Equal(t, at(2), fs)
	fs, ok = w.FirstSeen(v6.Key())
	assert.True(t, ok)
	assert.Equal(t, at(5), fs)
	_, ok = w.FirstSeen(lsn.Key())
	assert.False(t, ok, "closed connections are forgotten")
	for _, c := range w.Table() {
		got, _ := w.FirstSeen(c.Key())
		assert.Equal(t, got, c.FirstSeen)
	}

	p.Add(lsn)
	ev = poll()
	assert.Equal(t, []string{"opened " + lsn.Key().String()}, kinds(ev))
	assert.Equal(t, at(6), ev[0].After.FirstSeen, "a reopened connection is new")
	assert.Empty(t, poll(), "no change, no event")
	fs, _ = w.FirstSeen(v6.Key())
	assert.Equal(t, at(5), fs)

	require.NoError(t, p.Close())
	_, err = w.Poll(ctx)
	assert.ErrorIs(t, err, tcptable.ErrClosed)
}

// TestWatcherPartialTable checks that the rows a provider returns with
// ErrInconsistent are not diffed: they would report false closes.
func TestWatcherPartialTable(t *testing.T) {
	p := &scripted{steps: []step{
		{rows: []tcptable.Connection{lsn, est}},
		{rows: []tcptable.Connection{est}, err: fmt.Errorf("linux: %w", tcptable.ErrInconsistent)},
		{rows: []tcptable.Connection{lsn, est}},
	}}
	w := tcptable.NewWatcher(p, tcptable.Query{})
	for range 3 {
		ev, err := w.Poll(context.Background())
		assert.Empty(t, ev)
		if err != nil {
			assert.ErrorIs(t, err, tcptable.ErrInconsistent)
		}
		assert.Len(t, w.Table(), 2)
	}
}

func TestWatcherQuery(t *testing.T) {
	p := &scripted{steps: []step{{rows: []tcptable.Connection{lsn}}, {rows: []tcptable.Connection{lsn, est, v6}}}}
	w := tcptable.NewWatcher(p, tcptable.Query{Family: tcptable.IPv4, Class: tcptable.ClassConnections})
	_, err := w.Poll(context.Background())
	require.NoError(t, err)
	ev, err := w.Poll(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []string{"opened " + est.Key().String()}, kinds(ev))
}

func TestWatch(t *testing.T) {
	steps := []step{
		{rows: []tcptable.Connection{lsn}},
		{rows: []tcptable.Connection{lsn, est}},
		{rows: []tcptable.Connection{est}, err: fmt.Errorf("x: %w", tcptable.ErrInconsistent)},
		{rows: []tcptable.Connection{est}},
	}
	t.Run("events until fn stops", func(t *testing.T) {
		p := &scripted{steps: steps}
		stop := errors.New("stop")
		var got []tcptable.Event
		err := tcptable.Watch(context.Background(), p, tcptable.Query{}, time.Millisecond, func(e tcptable.Event) error {
			got = append(got, e)
			if len(got) == 2 {
				return stop
			}
			return nil
		})
		assert.ErrorIs(t, err, stop)
		assert.Equal(t, []string{"opened " + est.Key().String(), "closed " + lsn.Key().String()}, kinds(got))
		assert.Equal(t, 4, p.calls, "the inconsistent poll was skipped and retried")
		assert.False(t, got[0].Time.IsZero())
		assert.Equal(t, got[0].Time, got[0].After.FirstSeen)
	})
	t.Run("table error", func(t *testing.T) {
		boom := errors.New("boom")
		p := &scripted{steps: []step{{rows: []tcptable.Connection{lsn}}, {err: boom}}}
		err := tcptable.Watch(context.Background(), p, tcptable.Query{}, time.Millisecond, func(tcptable.Event) error { return nil })
		assert.ErrorIs(t, err, boom)
	})
	t.Run("context ends", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		p := &scripted{steps: steps}
		var n int
		err := tcptable.Watch(ctx, p, tcptable.Query{}, time.Millisecond, func(tcptable.Event) error {
			n++
			cancel()
			return nil
		})
		assert.ErrorIs(t, err, context.Canceled)
		assert.Equal(t, 1, n)
	})
	t.Run("context already done", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err := tcptable.Watch(ctx, &scripted{steps: steps}, tcptable.Query{}, time.Hour, func(tcptable.Event) error { return nil })
		assert.ErrorIs(t, err, context.Canceled)
	})
	t.Run("bad interval", func(t *testing.T) {
		for _, d := range []time.Duration{0, -time.Second} {
			err := tcptable.Watch(context.Background(), &scripted{steps: steps}, tcptable.Query{}, d, func(tcptable.Event) error { return nil })
			assert.ErrorIs(t, err, tcptable.ErrInvalid)
		}
	})
}

// TestWatcherPollReusesBuffers checks that a steady-state poll allocates
// nothing beyond the provider's own copy of the table: the index maps and
// the event buffer are reused.
func TestWatcherPollReusesBuffers(t *testing.T) {
	rows := make([]tcptable.Connection, 1000)
	for i := range rows {
		rows[i] = with(est, func(c *tcptable.Connection) { c.Local = netip.AddrPortFrom(c.Local.Addr(), uint16(1024+i)) })
	}
	w := tcptable.NewWatcher(&flipper{rows: rows}, tcptable.Query{})
	ctx := context.Background()
	var events int
	for range 3 { // warm up: the maps and the event buffer reach their size
		ev, err := w.Poll(ctx)
		require.NoError(t, err)
		events += len(ev)
	}
	require.Positive(t, events, "the flipper changes rows on every poll")
	allocs := testing.AllocsPerRun(20, func() {
		if _, err := w.Poll(ctx); err != nil {
			t.Fatal(err)
		}
	})
	assert.LessOrEqual(t, allocs, 1.0, "only the provider's table copy may allocate")
}

// BenchmarkWatcherPoll measures a steady-state poll of a 10,000-row table in
// which 1% of the rows change state each poll; the provider's own copy is
// part of the figure, as it would be with a real provider.
func BenchmarkWatcherPoll(b *testing.B) {
	rows := make([]tcptable.Connection, 10000)
	for i := range rows {
		rows[i] = with(est, func(c *tcptable.Connection) {
			c.Local = netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), uint16(1024+i))
		})
	}
	p := &flipper{rows: rows}
	w := tcptable.NewWatcher(p, tcptable.Query{})
	ctx := context.Background()
	if _, err := w.Poll(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	var events int
	for b.Loop() {
		ev, err := w.Poll(ctx)
		if err != nil {
			b.Fatal(err)
		}
		events += len(ev)
	}
	b.ReportMetric(float64(events)/float64(b.N), "events/op")
}

// flipper toggles the state of every 100th row on each call.
type flipper struct {
	rows []tcptable.Connection
	n    int
}

func (f *flipper) Table(context.Context, tcptable.Query) ([]tcptable.Connection, error) {
	f.flip()
	return slices.Clone(f.rows), nil
}

func (f *flipper) flip() {
	f.n++
	for i := f.n % 100; i < len(f.rows); i += 100 {
		if f.rows[i].State == tcptable.StateEstablished {
			f.rows[i].State = tcptable.StateCloseWait
		} else {
			f.rows[i].State = tcptable.StateEstablished
		}
	}
}

func (f *flipper) Close() error { return nil }

// reusingFlipper is a flipper that builds its answer in the buffer it is
// handed (a tcptable.ReusingProvider).
type reusingFlipper struct{ flipper }

func (f *reusingFlipper) TableInto(_ context.Context, _ tcptable.Query, buf []tcptable.Connection) ([]tcptable.Connection, error) {
	f.flip()
	if cap(buf) < len(f.rows) {
		buf = make([]tcptable.Connection, 0, len(f.rows))
	}
	return append(buf[:0], f.rows...), nil
}

// TestWatcherReusesSnapshots checks that with a ReusingProvider a Watcher
// hands each poll the array of the snapshot before the last, allocates
// nothing in a steady state, and reports exactly what it reports with a
// plain Provider.
func TestWatcherReusesSnapshots(t *testing.T) {
	rows := make([]tcptable.Connection, 1000)
	for i := range rows {
		rows[i] = with(est, func(c *tcptable.Connection) { c.Local = netip.AddrPortFrom(c.Local.Addr(), uint16(1024+i)) })
	}
	clock := tcptable.WithClock(func() time.Time { return time.Unix(1700000000, 0) })
	plain := tcptable.NewWatcher(&flipper{rows: slices.Clone(rows)}, tcptable.Query{}, clock)
	reuse := tcptable.NewWatcher(&reusingFlipper{flipper{rows: slices.Clone(rows)}}, tcptable.Query{}, clock)
	ctx := context.Background()
	var arrays []*tcptable.Connection
	events := 0
	for i := range 6 {
		want, err := plain.Poll(ctx)
		require.NoError(t, err)
		got, err := reuse.Poll(ctx)
		require.NoError(t, err)
		require.Equal(t, want, got, "poll %d", i)
		require.Equal(t, plain.Table(), reuse.Table(), "poll %d", i)
		events += len(got)
		arrays = append(arrays, &reuse.Table()[0])
	}
	assert.Positive(t, events)
	assert.NotSame(t, arrays[0], arrays[1], "the previous snapshot is kept for the diff")
	for i := 2; i < len(arrays); i++ {
		assert.Same(t, arrays[i-2], arrays[i], "poll %d reuses the array of poll %d", i, i-2)
	}
	allocs := testing.AllocsPerRun(20, func() {
		if _, err := reuse.Poll(ctx); err != nil {
			t.Fatal(err)
		}
	})
	assert.Zero(t, allocs, "a steady-state poll allocates nothing")
}

// TestWatchRealOS watches this host through the native provider while the
// test opens and closes a listener.
func TestWatchRealOS(t *testing.T) {
	watchListenerOpenClose(t, nativetest.New(t, "the Watcher is covered against fakes above"))
}

// watchListenerOpenClose opens and closes a listener on 127.0.0.1 and
// checks that a Watcher over p reports both, with this process as owner.
func watchListenerOpenClose(t *testing.T, p tcptable.Provider) {
	ctx := context.Background()
	w := tcptable.NewWatcher(p, tcptable.Query{Class: tcptable.ClassListeners, Family: tcptable.IPv4})
	_, err := w.Poll(ctx)
	require.NoError(t, err)

	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	addr := netip.MustParseAddrPort(ln.Addr().String())
	opened := pollUntil(t, w, func(e *tcptable.Event) bool { return e.Kind == tcptable.EventOpened && e.After.Local == addr })
	assert.Equal(t, tcptable.StateListen, opened.After.State)
	assert.False(t, opened.After.FirstSeen.IsZero())
	assert.Equal(t, opened.Time, opened.After.FirstSeen)
	// The caller's own sockets always have a visible owner on Linux; a
	// provider elsewhere may say it cannot tell (Wine reports no PIDs).
	if opened.After.OwnerStatus == tcptable.OwnerOK || runtime.GOOS == "linux" {
		assert.Equal(t, tcptable.OwnerOK, opened.After.OwnerStatus)
		assert.Equal(t, uint32(os.Getpid()), opened.After.PID)
	} else {
		t.Logf("owner not reported: %v", opened.After.OwnerStatus)
	}

	require.NoError(t, ln.Close())
	closed := pollUntil(t, w, func(e *tcptable.Event) bool { return e.Kind == tcptable.EventClosed && e.Key == opened.Key })
	assert.Equal(t, opened.After.FirstSeen, closed.Before.FirstSeen, "FirstSeen kept until the close")
}

// pollUntil polls w until an event satisfies ok, for at most 30 seconds (a
// loaded machine with a large table makes polls slow).
func pollUntil(t *testing.T, w *tcptable.Watcher, ok func(*tcptable.Event) bool) tcptable.Event {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		events, err := w.Poll(context.Background())
		if !errors.Is(err, tcptable.ErrInconsistent) {
			require.NoError(t, err)
		}
		for i := range events {
			if ok(&events[i]) {
				return events[i]
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("the expected event did not come within 30s")
	return tcptable.Event{}
}
