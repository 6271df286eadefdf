package conformance_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/conformance"
	"github.com/tcptable/tcptable/providers/mock"
)

// editEvents returns a provider whose traces pass each of the mock's
// events through an edit made afresh for every trace; the edit returns
// the events to deliver in its place (none, one, or more).
func editEvents(p *mock.Provider, newEdit func() func(e tcptable.Event) []tcptable.Event) *wrapper {
	return &wrapper{Provider: p, table: p.Table, trace: func(ctx context.Context, q tcptable.Query, ready func(string), fn func(tcptable.Event) error) error {
		edit := newEdit()
		return p.TraceReady(ctx, q, ready, func(e tcptable.Event) error {
			for _, x := range edit(e) {
				if err := fn(x); err != nil {
					return err
				}
			}
			return nil
		})
	}}
}

// each makes a stateless event edit.
func each(edit func(e tcptable.Event) []tcptable.Event) func() func(e tcptable.Event) []tcptable.Event {
	return func() func(e tcptable.Event) []tcptable.Event { return edit }
}

// editTraced returns a provider whose traced rows (not its Table's) are
// edited.
func editTraced(p *mock.Provider, edit func(c *tcptable.Connection)) *wrapper {
	return editEvents(p, each(func(e tcptable.Event) []tcptable.Event {
		for _, c := range []*tcptable.Connection{&e.Before, &e.After} {
			if c.Local.IsValid() {
				edit(c)
			}
		}
		if e.Kind != tcptable.EventLost {
			e.Key = e.Row().Key()
		}
		return []tcptable.Event{e}
	}))
}

// plainTracer hides the mock's TraceReady: a Tracer that does not say
// when it is live.
type plainTracer struct {
	tcptable.Provider
	p *mock.Provider
}

func (t plainTracer) Trace(ctx context.Context, q tcptable.Query, fn func(tcptable.Event) error) error {
	return t.p.Trace(ctx, q, fn)
}

// polledOpenings returns a provider whose traces report the Env's pairs
// as a tracer that sees ends but polls for openings does when a pair
// lives between two polls: nothing until the connection ends, then opened
// and closed at once, or opened in TIME-WAIT, without an owner. A broken
// one reports those ends without the opening (endsOnly), or listeners
// without their owner (noListenerPID).
func polledOpenings(p *mock.Provider, endsOnly, noListenerPID bool) *wrapper {
	return editEvents(p, func() func(e tcptable.Event) []tcptable.Event {
		shown := map[tcptable.Key]bool{}
		return func(e tcptable.Event) []tcptable.Event {
			if e.Kind == tcptable.EventLost {
				return []tcptable.Event{e}
			}
			if e.Row().Remote.Port() == 0 { // listeners live across polls
				if noListenerPID {
					for _, c := range []*tcptable.Connection{&e.Before, &e.After} {
						c.PID, c.OwnerStatus = 0, tcptable.OwnerUnknown
					}
				}
				return []tcptable.Event{e}
			}
			for _, c := range []*tcptable.Connection{&e.Before, &e.After} {
				if c.Local.IsValid() {
					c.PID, c.Module, c.OtherPIDs = 0, tcptable.Module{}, nil
					c.OwnerStatus, c.ModuleStatus, c.ModuleSource = tcptable.OwnerUnknown, tcptable.OwnerUnknown, tcptable.SourceNone
				}
			}
			opened := tcptable.Event{Kind: tcptable.EventOpened, Key: e.Key, After: *e.Row(), Time: e.Time}
			switch {
			case shown[e.Key]:
				return []tcptable.Event{e}
			case e.Kind == tcptable.EventClosed:
				shown[e.Key] = true
				if endsOnly {
					return []tcptable.Event{e}
				}
				return []tcptable.Event{opened, e}
			case e.After.State == tcptable.StateTimeWait:
				shown[e.Key] = true
				opened.After = e.After
				if endsOnly {
					return nil
				}
				return []tcptable.Event{opened}
			}
			return nil // not seen by a poll yet
		}
	})
}

// traceDefects are the tracers the suite's Trace check must fail, and
// those odd but legal ones it must pass.
var traceDefects = map[string]defect{
	"trace-drops-close": {
		wrap: func(p *mock.Provider) tcptable.Provider {
			return editEvents(p, each(func(e tcptable.Event) []tcptable.Event {
				if e.Kind == tcptable.EventClosed {
					return nil
				}
				return []tcptable.Event{e}
			}))
		},
		subtest: "Trace/tcp4", message: "reported no closed event for listener 127.0.0.1:",
	},
	"trace-wrong-pid": {
		wrap: func(p *mock.Provider) tcptable.Provider {
			me := uint32(os.Getpid())
			return editTraced(p, func(c *tcptable.Connection) {
				if c.PID == me {
					c.PID++
				}
			})
		},
		subtest: "Trace/tcp4", message: "traced opened {LISTEN 127.0.0.1:", passes: "Listener/tcp4",
		logs: "names another process than this one",
	},
	"trace-loses-silently": {
		// Every other event, and never an EventLost.
		wrap: func(p *mock.Provider) tcptable.Provider {
			return editEvents(p, func() func(e tcptable.Event) []tcptable.Event {
				n := 0
				return func(e tcptable.Event) []tcptable.Event {
					if n++; n%2 == 0 {
						return nil
					}
					return []tcptable.Event{e}
				}
			})
		},
		subtest: "Trace/tcp4", message: "traced events out of order",
	},
	"trace-ignores-query": {
		wrap: func(p *mock.Provider) tcptable.Provider {
			return &wrapper{Provider: p, table: p.Table, trace: func(ctx context.Context, _ tcptable.Query, ready func(string), fn func(tcptable.Event) error) error {
				return p.TraceReady(ctx, tcptable.Query{}, ready, fn)
			}}
		},
		subtest: "Trace/tcp4", message: "traced event for a row that does not match the query {Class=listeners Family=ipv4}",
	},
	"trace-reorders": {
		// A connection's opened event comes after its next event, as from
		// per-CPU buffers merged without regard to order.
		wrap: func(p *mock.Provider) tcptable.Provider {
			return editEvents(p, func() func(e tcptable.Event) []tcptable.Event {
				held := map[tcptable.Key]tcptable.Event{}
				return func(e tcptable.Event) []tcptable.Event {
					if e.Kind == tcptable.EventOpened && e.After.Remote.Port() != 0 {
						held[e.Key] = e
						return nil
					}
					if h, ok := held[e.Key]; ok {
						delete(held, e.Key)
						return []tcptable.Event{e, h}
					}
					return []tcptable.Event{e}
				}
			})
		},
		subtest: "Trace/tcp4", message: "traced events out of order: state-changed while not open",
	},
	"trace-zero-time": {
		wrap: func(p *mock.Provider) tcptable.Provider {
			return editEvents(p, each(func(e tcptable.Event) []tcptable.Event {
				e.Time = time.Time{}
				return []tcptable.Event{e}
			}))
		},
		subtest: "Trace/tcp4", message: "Time lies outside the check's run",
	},
	"trace-listener-key": {
		// Listeners traced without their socket identity: their Key is
		// not the one Table gives.
		wrap: func(p *mock.Provider) tcptable.Provider {
			return editTraced(p, func(c *tcptable.Connection) {
				if c.State == tcptable.StateListen {
					c.Socket = 0
				}
			})
		},
		subtest: "Trace/tcp4", message: "a Watch could not tell that they are one",
	},
	"trace-ignores-context": {
		wrap: func(p *mock.Provider) tcptable.Provider {
			return &wrapper{Provider: p, table: p.Table, trace: func(_ context.Context, q tcptable.Query, ready func(string), fn func(tcptable.Event) error) error {
				return p.TraceReady(context.Background(), q, ready, fn)
			}}
		},
		subtest: "Trace/tcp4", message: "did not return within",
	},
	"trace-not-supported": {
		wrap: func(p *mock.Provider) tcptable.Provider {
			p.FailTrace(fmt.Errorf("test: trace: %w: needs CAP_BPF", tcptable.ErrNotSupported))
			return &wrapper{Provider: p, table: p.Table}
		},
		subtest: "Trace/tcp4", message: "(declare no-trace if the provider cannot trace on this platform)",
	},
	"trace-polled-openings": {
		// A fallback that polls for openings, without declaring it.
		wrap:    func(p *mock.Provider) tcptable.Provider { return polledOpenings(p, false, false) },
		subtest: "Trace/tcp4", message: "reported no closed or TIME-WAIT event for the dialing end",
	},
	"trace-polled-ends-only": {
		// Declares the gap but reports ends without their openings.
		wrap:    func(p *mock.Provider) tcptable.Provider { return polledOpenings(p, true, false) },
		opts:    []conformance.Option{conformance.DeclareGap(conformance.NoTracedOpenings, "test: polls for openings")},
		subtest: "Trace/tcp4", message: "reported no opened event for the dialing end",
		logs: "closed while not open",
	},
	"trace-polled-misses-pair": {
		// Declares the gap but reports nothing of the pair.
		wrap: func(p *mock.Provider) tcptable.Provider {
			return editEvents(p, each(func(e tcptable.Event) []tcptable.Event {
				if e.Kind != tcptable.EventLost && e.Row().Remote.Port() != 0 {
					return nil
				}
				return []tcptable.Event{e}
			}))
		},
		opts:    []conformance.Option{conformance.DeclareGap(conformance.NoTracedOpenings, "test: polls for openings")},
		subtest: "Trace/tcp4", message: "reported no opened event for the dialing end",
	},
	"trace-polled-wrong-listener-pid": {
		// The gap spares the pair's owners, not the listener's.
		wrap: func(p *mock.Provider) tcptable.Provider {
			return polledOpenings(p, false, true)
		},
		opts:    []conformance.Option{conformance.DeclareGap(conformance.NoTracedOpenings, "test: polls for openings")},
		subtest: "Trace/tcp4", message: "traced opened {LISTEN 127.0.0.1:",
	},
	// Odd but legal: these must pass.
	"trace-polled-openings-with-gap": {
		wrap:    func(p *mock.Provider) tcptable.Provider { return polledOpenings(p, false, false) },
		opts:    []conformance.Option{conformance.DeclareGap(conformance.NoTracedOpenings, "test: polls for openings")},
		message: "--- PASS: TestDefectChild/Trace/tcp4",
	},
	"trace-not-supported-with-gap": {
		wrap: func(p *mock.Provider) tcptable.Provider {
			p.FailTrace(fmt.Errorf("test: trace: %w: needs CAP_BPF", tcptable.ErrNotSupported))
			return &wrapper{Provider: p, table: p.Table}
		},
		opts:    []conformance.Option{conformance.DeclareGap(conformance.NoTrace, "test: not root")},
		message: "--- SKIP: TestDefectChild/Trace/tcp4", logs: "Trace is not supported here (gap no-trace): test: trace: not supported: needs CAP_BPF",
	},
	"trace-none": {
		wrap:    func(p *mock.Provider) tcptable.Provider { return struct{ tcptable.Provider }{p} },
		message: "does not implement tcptable.Tracer: no traced events to check (gap no-trace)",
	},
	"trace-plain": {
		// No TraceReady: the suite waits until the trace reports a
		// listener before it relies on it.
		wrap:    func(p *mock.Provider) tcptable.Provider { return plainTracer{Provider: p, p: p} },
		message: "--- PASS: TestDefectChild/Trace/tcp4",
	},
	"trace-extra-losses": {
		// An EventLost that lost nothing, before every event.
		wrap: func(p *mock.Provider) tcptable.Provider {
			return editEvents(p, each(func(e tcptable.Event) []tcptable.Event {
				return []tcptable.Event{{Kind: tcptable.EventLost, Time: e.Time}, e}
			}))
		},
		message: "--- PASS: TestDefectChild/Trace/tcp4",
	},
	"trace-intermediate-states": {
		// Every state change goes through CLOSING on its way.
		wrap: func(p *mock.Provider) tcptable.Provider {
			return editEvents(p, each(func(e tcptable.Event) []tcptable.Event {
				if e.Kind != tcptable.EventStateChanged || e.Before.State == tcptable.StateClosing || e.After.State == tcptable.StateClosing {
					return []tcptable.Event{e}
				}
				mid := e
				mid.After.State = tcptable.StateClosing
				rest := e
				rest.Before.State = tcptable.StateClosing
				return []tcptable.Event{mid, rest}
			}))
		},
		message: "--- PASS: TestDefectChild/Trace/tcp4",
	},
}
