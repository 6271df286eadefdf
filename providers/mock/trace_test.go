package mock_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/conformance"
	"github.com/tcptable/tcptable/providers/mock"
)

// recorder collects what a trace delivers.
type recorder struct {
	mu     sync.Mutex
	events []tcptable.Event
	source string
	ready  chan struct{}
	done   chan struct{}
	err    error
}

// record starts a trace of q on p and stops it at the end of the test.
func record(t *testing.T, p *mock.Provider, q tcptable.Query) *recorder {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &recorder{ready: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(r.done)
		r.err = p.TraceReady(ctx, q, func(s string) { r.source = s; close(r.ready) }, func(e tcptable.Event) error {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.events = append(r.events, e)
			return nil
		})
	}()
	t.Cleanup(func() { cancel(); <-r.done })
	select {
	case <-r.ready:
	case <-r.done:
		t.Fatalf("TraceReady returned before it was ready: %v", r.err)
	}
	return r
}

// take returns the events delivered so far and forgets them.
func (r *recorder) take() []tcptable.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.events
	r.events = nil
	return out
}

// summary is "kind key" per event, as the root package's tests write it.
func summary(events []tcptable.Event) []string {
	var out []string
	for _, e := range events {
		s := e.Kind.String()
		if e.Kind != tcptable.EventLost {
			s += " " + e.Key.String()
		} else {
			s += fmt.Sprintf(" %d", e.Lost)
		}
		out = append(out, s)
	}
	return out
}

// TestTraceIsDiff: every edit is traced as exactly the events Diff reports
// between the answers to the trace's query just before and just after it,
// for several queries at once.
func TestTraceIsDiff(t *testing.T) {
	rows := sample()
	queries := []tcptable.Query{
		{},
		{Class: tcptable.ClassListeners},
		{Class: tcptable.ClassConnections, Family: tcptable.IPv4, Owners: tcptable.OwnerPIDs},
		{States: []tcptable.State{tcptable.StateEstablished}, Owners: tcptable.OwnerNone},
		{PID: 1},
	}
	var (
		ln   interface{ Close() error }
		ln6  conformance.Listener
		pair interface {
			CloseWrite() error
			CloseActive() error
			Close() error
		}
		stop func() error
	)
	edits := []struct {
		name string
		edit func(t *testing.T, p *mock.Provider)
		want []string // for Query{}; nil: not checked literally
	}{
		{"add", func(_ *testing.T, p *mock.Provider) { p.Add(rows[2]) }, []string{"opened " + rows[2].Key().String()}},
		{"add unchanged", func(_ *testing.T, p *mock.Provider) { p.Add(rows[2]) }, []string{}},
		{"set state", func(_ *testing.T, p *mock.Provider) { p.SetState(rows[2].Key(), tcptable.StateFinWait1) },
			[]string{"state-changed " + rows[2].Key().String()}},
		{"update owner", func(_ *testing.T, p *mock.Provider) {
			p.Update(rows[2].Key(), func(c *tcptable.Connection) { c.PID, c.OtherPIDs = 4, nil })
		}, []string{"owner-changed " + rows[2].Key().String()}},
		{"update other fields", func(_ *testing.T, p *mock.Provider) {
			p.Update(rows[2].Key(), func(c *tcptable.Connection) { c.UID, c.HasUID = 5, true })
		}, []string{}},
		{"update to another key", func(_ *testing.T, p *mock.Provider) {
			p.Update(rows[0].Key(), func(c *tcptable.Connection) { c.PID = 2 }) // a listener known by its PID
		}, nil},
		{"remove", func(_ *testing.T, p *mock.Provider) { p.Remove(rows[2].Key()) }, []string{"closed " + rows[2].Key().String()}},
		{"set", func(_ *testing.T, p *mock.Provider) { p.Set(rows[1], rows[2], rows[3]) }, nil},
		{"listen", func(t *testing.T, p *mock.Provider) {
			l, err := p.Listen("tcp4")
			require.NoError(t, err)
			ln = l
		}, nil},
		{"listen tcp6", func(t *testing.T, p *mock.Provider) {
			l, err := p.Listen("tcp6")
			require.NoError(t, err)
			ln6 = l
		}, nil},
		{"share", func(t *testing.T, p *mock.Provider) {
			var err error
			_, stop, err = p.Share(ln6)
			require.NoError(t, err)
		}, nil},
		{"stop sharing", func(t *testing.T, _ *mock.Provider) { require.NoError(t, stop()) }, nil},
		{"close listener", func(t *testing.T, _ *mock.Provider) { require.NoError(t, ln.Close()) }, nil},
		{"dial", func(t *testing.T, p *mock.Provider) {
			pr, err := p.Dial("tcp4")
			require.NoError(t, err)
			pair = pr
		}, nil},
		{"close write", func(t *testing.T, _ *mock.Provider) { require.NoError(t, pair.CloseWrite()) }, nil},
		{"close active", func(t *testing.T, _ *mock.Provider) { require.NoError(t, pair.CloseActive()) }, nil},
		{"close pair", func(t *testing.T, _ *mock.Provider) { require.NoError(t, pair.Close()) }, nil},
	}
	p := mock.New(rows[0], rows[1])
	now := time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)
	p.SetClock(func() time.Time { return now })
	recs := make([]*recorder, len(queries))
	for i, q := range queries {
		recs[i] = record(t, p, q)
		assert.Equal(t, "mock", recs[i].source)
	}
	assert.Equal(t, len(queries), p.Traces())
	total := 0
	for _, e := range edits {
		before := make([][]tcptable.Connection, len(queries))
		for i, q := range queries {
			before[i], _ = p.Table(context.Background(), q)
		}
		e.edit(t, p)
		p.Flush()
		for i, q := range queries {
			after, err := p.Table(context.Background(), q)
			require.NoError(t, err)
			// An edit step may be several edits (a pair's ends change
			// one after the other): per connection, the order is Diff's.
			got := byKeyOf(recs[i].take(), before[i], after)
			want := tcptable.Diff(before[i], after)
			for j := range want {
				want[j].Time = now
			}
			assert.Equal(t, summary(want), summary(got), "%s, query %+v", e.name, q)
			assert.Equal(t, want, got, "%s, query %+v: the rows too", e.name, q)
			if i == 0 && e.want != nil {
				assert.Equal(t, e.want, append([]string{}, summary(got)...), e.name)
			}
			total += len(got)
		}
	}
	assert.Greater(t, total, 40, "the edits made events")
}

// byKeyOf orders events as Diff orders those from before to after (by
// Key), keeping their order per Key.
func byKeyOf(events []tcptable.Event, before, after []tcptable.Connection) []tcptable.Event {
	rank := map[tcptable.Key]int{}
	for i, e := range tcptable.Diff(before, after) {
		if _, ok := rank[e.Key]; !ok {
			rank[e.Key] = i
		}
	}
	slices.SortStableFunc(events, func(a, b tcptable.Event) int { return rank[a.Key] - rank[b.Key] })
	return events
}

// TestTraceEnvPair: a simulated pair that opens and closes at once is
// traced with this process' PID, as the conformance suite's Trace check
// wants from a real OS.
func TestTraceEnvPair(t *testing.T) {
	p := mock.New()
	r := record(t, p, tcptable.Query{Family: tcptable.IPv6})
	pair, err := p.Dial("tcp6")
	require.NoError(t, err)
	require.NoError(t, pair.CloseActive())
	require.NoError(t, pair.Close())
	p.Flush()
	client := tcptable.Key{Local: pair.Client(), Remote: pair.Server()}
	server := tcptable.Key{Local: pair.Server(), Remote: pair.Client()}
	var got []string
	for _, e := range r.take() {
		if e.Kind == tcptable.EventOpened {
			assert.Equal(t, uint32(os.Getpid()), e.After.PID, "owned by this process")
		}
		got = append(got, e.Kind.String()+" "+map[tcptable.Key]string{client: "client", server: "server"}[e.Key])
	}
	assert.ElementsMatch(t, []string{"opened client", "opened server"}, got[:2])
	assert.Equal(t, []string{"state-changed client", "owner-changed client", "closed server", "closed client"}, got[2:])
}

func TestTraceFaults(t *testing.T) {
	notHere := fmt.Errorf("test: %w", tcptable.ErrNotSupported)
	t.Run("fail trace", func(t *testing.T) {
		p := mock.New()
		p.FailTrace(notHere, nil)
		called := false
		err := p.TraceReady(context.Background(), tcptable.Query{}, func(string) { called = true }, func(tcptable.Event) error { return nil })
		assert.Same(t, notHere, err, "the error comes back as it is")
		assert.False(t, called, "not ready")
		r := record(t, p, tcptable.Query{}) // the nil: a normal trace
		p.Add(sample()[0])
		p.Flush()
		assert.Len(t, r.take(), 1)
	})
	t.Run("end traces", func(t *testing.T) {
		p := mock.New()
		r := record(t, p, tcptable.Query{})
		broken := errors.New("ring buffer gone")
		p.Add(sample()[0])
		p.EndTraces(broken)
		p.Add(sample()[1]) // after the end: not delivered
		<-r.done
		assert.Same(t, broken, r.err)
		assert.Len(t, r.take(), 1, "what came before the end is delivered")
		assert.Zero(t, p.Traces())
	})
	t.Run("lose events", func(t *testing.T) {
		p := mock.New()
		r := record(t, p, tcptable.Query{})
		p.LoseEvents(2)
		rows := sample()
		p.Add(rows[0])
		p.Add(rows[1])
		p.Add(rows[2])
		p.Flush()
		got := r.take()
		var lost uint64
		for _, e := range got[:len(got)-1] {
			require.Equal(t, tcptable.EventLost, e.Kind, "only losses before the last event: %v", summary(got))
			lost += e.Lost
		}
		assert.Equal(t, uint64(2), lost, "one EventLost, or one per delivery, says how many")
		assert.Equal(t, []string{"opened " + rows[2].Key().String()}, summary(got[len(got)-1:]))
	})
	t.Run("buffer overflows", func(t *testing.T) {
		p := mock.New()
		p.SetTraceBuffer(2)
		gate := make(chan struct{})
		var got []tcptable.Event
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		first := make(chan struct{})
		done := make(chan error)
		go func() {
			done <- p.TraceReady(ctx, tcptable.Query{}, nil, func(e tcptable.Event) error {
				if len(got) == 0 {
					close(first)
					<-gate // a slow reader: the buffer fills up
				}
				got = append(got, e)
				return nil
			})
		}()
		for p.Traces() == 0 {
			time.Sleep(time.Millisecond)
		}
		rows := sample()
		p.Add(rows[0])
		<-first
		for _, c := range rows[1:] {
			p.Add(c)
		}
		p.Remove(rows[0].Key())
		close(gate)
		p.Flush()
		cancel()
		assert.ErrorIs(t, <-done, context.Canceled)
		done4 := mock.New(rows...).Rows() // as Add completes them: listeners get their Remote
		assert.Equal(t, []string{"opened " + done4[0].Key().String(), "opened " + done4[1].Key().String(),
			"opened " + done4[2].Key().String(), "lost 2"}, summary(got))
	})
}

func TestTraceLifecycle(t *testing.T) {
	nop := func(tcptable.Event) error { return nil }
	t.Run("context ends", func(t *testing.T) {
		p := mock.New()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		assert.ErrorIs(t, p.Trace(ctx, tcptable.Query{}, nop), context.Canceled)
		record(t, p, tcptable.Query{})
		ctx, cancel = context.WithTimeout(context.Background(), time.Millisecond)
		defer cancel()
		assert.ErrorIs(t, p.Trace(ctx, tcptable.Query{}, nop), context.DeadlineExceeded)
		assert.Equal(t, 1, p.Traces(), "one trace ending leaves the others")
	})
	t.Run("close", func(t *testing.T) {
		p := mock.New()
		r := record(t, p, tcptable.Query{})
		require.NoError(t, p.Close())
		<-r.done
		assert.ErrorIs(t, r.err, tcptable.ErrClosed)
		assert.ErrorIs(t, p.Trace(context.Background(), tcptable.Query{}, nop), tcptable.ErrClosed)
	})
	t.Run("bad query", func(t *testing.T) {
		err := mock.New().Trace(context.Background(), tcptable.Query{Class: 9}, nop)
		assert.ErrorIs(t, err, tcptable.ErrInvalid)
	})
	t.Run("fn fails", func(t *testing.T) {
		p := mock.New()
		stop := errors.New("stop")
		done := make(chan error)
		go func() {
			done <- p.Trace(context.Background(), tcptable.Query{}, func(tcptable.Event) error { return stop })
		}()
		for p.Traces() == 0 {
			time.Sleep(time.Millisecond)
		}
		p.Add(sample()...)
		assert.Same(t, stop, <-done)
		p.Flush() // does not wait for a trace that ended
		assert.Zero(t, p.Traces())
	})
}

// TestTraceConcurrentEdits: edits from many goroutines reach every trace,
// in the order they were made, with nothing lost (run with -race).
func TestTraceConcurrentEdits(t *testing.T) {
	p := mock.New()
	r := record(t, p, tcptable.Query{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 25 {
				pair, err := p.Dial("tcp4")
				if !assert.NoError(t, err) {
					return
				}
				assert.NoError(t, pair.Close())
			}
		})
	}
	wg.Wait()
	p.Flush()
	got := r.take()
	assert.Len(t, got, 4*25*4, "two opened and two closed events a pair")
	open := map[tcptable.Key]bool{}
	for _, e := range got {
		switch e.Kind {
		case tcptable.EventOpened:
			assert.False(t, open[e.Key], "opened twice: %v", e)
			open[e.Key] = true
		case tcptable.EventClosed:
			assert.True(t, open[e.Key], "closed before opened: %v", e)
			delete(open, e.Key)
		}
	}
	assert.Empty(t, open)
	assert.True(t, slices.IsSortedFunc(got, func(a, b tcptable.Event) int { return a.Time.Compare(b.Time) }), "in the order of the edits")
}
