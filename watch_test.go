package tcptable_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcptable/tcptable"
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
	finWait := with(est, func(c *tcptable.Connection) { c.State = tcptable.StateFinWait1 })
	inconsistent := fmt.Errorf("linux: %w", tcptable.ErrInconsistent)
	p := &scripted{steps: []step{
		{rows: []tcptable.Connection{lsn}},                        // t0+1: baseline
		{rows: []tcptable.Connection{lsn, est}},                   // t0+2: est opened
		{err: errors.New("boom")},                                 // no clock reading
		{rows: []tcptable.Connection{finWait}, err: inconsistent}, // partial: ignored
		{rows: []tcptable.Connection{lsn, finWait}},               // t0+3: state change
		{rows: []tcptable.Connection{finWait, v6}},                // t0+4: lsn closed, v6 opened
	}}
	clk := &clock{t: t0}
	w := tcptable.NewWatcher(p, tcptable.Query{}, tcptable.WithClock(clk.now))
	assert.Nil(t, w.Table())
	_, ok := w.FirstSeen(lsn.Key())
	assert.False(t, ok)
	ctx := context.Background()

	ev, err := w.Poll(ctx)
	require.NoError(t, err)
	assert.Empty(t, ev, "the baseline reports nothing")
	assert.Equal(t, t0.Add(1*time.Second), w.PolledAt())
	require.Len(t, w.Table(), 1)
	assert.Equal(t, t0.Add(1*time.Second), w.Table()[0].FirstSeen)

	ev, err = w.Poll(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"opened " + est.Key().String()}, kinds(ev))
	assert.Equal(t, t0.Add(2*time.Second), ev[0].Time)
	assert.Equal(t, t0.Add(2*time.Second), ev[0].After.FirstSeen)

	_, err = w.Poll(ctx)
	assert.EqualError(t, err, "boom")
	ev, err = w.Poll(ctx)
	assert.ErrorIs(t, err, tcptable.ErrInconsistent)
	assert.Empty(t, ev)
	assert.Len(t, w.Table(), 2, "a failed poll keeps the last good snapshot")
	assert.Equal(t, t0.Add(2*time.Second), w.PolledAt())

	ev, err = w.Poll(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"state-changed " + est.Key().String()}, kinds(ev))
	assert.Equal(t, tcptable.StateEstablished, ev[0].Before.State)
	assert.Equal(t, tcptable.StateFinWait1, ev[0].After.State)
	assert.Equal(t, t0.Add(2*time.Second), ev[0].Before.FirstSeen)
	assert.Equal(t, t0.Add(2*time.Second), ev[0].After.FirstSeen, "FirstSeen survives a state change")
	assert.Equal(t, t0.Add(3*time.Second), ev[0].Time)

	ev, err = w.Poll(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"closed " + lsn.Key().String(), "opened " + v6.Key().String()}, kinds(ev))
	fs, ok := w.FirstSeen(est.Key())
	assert.True(t, ok)
	assert.Equal(t, t0.Add(2*time.Second), fs)
	fs, ok = w.FirstSeen(v6.Key())
	assert.True(t, ok)
	assert.Equal(t, t0.Add(4*time.Second), fs)
	_, ok = w.FirstSeen(lsn.Key())
	assert.False(t, ok, "closed connections are forgotten")
	for _, c := range w.Table() {
		got, _ := w.FirstSeen(c.Key())
		assert.Equal(t, got, c.FirstSeen)
	}

	ev, err = w.Poll(ctx)
	require.NoError(t, err)
	assert.Empty(t, ev, "no change, no event")
	fs, _ = w.FirstSeen(v6.Key())
	assert.Equal(t, t0.Add(4*time.Second), fs, "a reopened-then-stable row keeps its first sighting")
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
	f.n++
	for i := f.n % 100; i < len(f.rows); i += 100 {
		if f.rows[i].State == tcptable.StateEstablished {
			f.rows[i].State = tcptable.StateCloseWait
		} else {
			f.rows[i].State = tcptable.StateEstablished
		}
	}
	return slices.Clone(f.rows), nil
}

func (f *flipper) Close() error { return nil }
