package conformance

import (
	"fmt"
	"time"

	"github.com/tcptable/tcptable"
)

// checkTrace: a provider that implements tcptable.Tracer reports, as they
// happen, a listener opened and closed, and a pair dialed and closed at
// once (a life shorter than any poll): every end opened, owned by this
// process, and closed (the dialing end may stay in TIME-WAIT), in an order
// Diff could report, at the right times, under the right Keys, and no
// event for a row the trace's query excludes. A provider that is no
// Tracer skips; one whose Trace is not supported here must declare
// NoTrace.
func checkTrace(s *session, network string) {
	t, ok := s.p.(tcptable.Tracer)
	if !ok {
		s.t.Skipf("provider %T does not implement tcptable.Tracer: no traced events to check (gap %v)", s.p, NoTrace)
	}
	fam := tcptable.IPv4
	if network == "tcp6" {
		fam = tcptable.IPv6
	}
	all := s.startTrace(t, tcptable.Query{}, network)
	lsn := s.startTrace(t, tcptable.Query{Class: tcptable.ClassListeners, Family: fam}, network)
	traces := []*trace{all, lsn}

	ln := s.listen(network)
	lt := tuple{ln.Addr(), unspecified(ln.Addr())}
	lnOpened := requirement{"opened event for listener " + ln.Addr().String(), lt, kindIs(tcptable.EventOpened)}
	for _, tr := range traces {
		if err := s.await(func() error { return missing(tr, []requirement{lnOpened}) }); err != nil {
			s.t.Fatalf("%v", err)
		}
	}
	s.traceKeyIsTableKey(all, lt)

	pair, err := s.env.Dial(network)
	s.skipUnsupported("Dial("+network+")", err)
	s.t.Cleanup(func() { _ = pair.Close() })
	if err := pair.CloseActive(); err != nil { // no poll between: a life of milliseconds
		s.t.Fatalf("Pair.CloseActive: %v", err)
	}
	if err := ln.Close(); err != nil {
		s.t.Fatalf("Listener.Close: %v", err)
	}
	client, server := tuple{pair.Client(), pair.Server()}, tuple{pair.Server(), pair.Client()}
	dialerEnds := ends
	if s.cfg.has(NoTracedOpenings) {
		// A poll may first find the dialing end in TIME-WAIT.
		dialerEnds = func(e *tcptable.Event) bool {
			return ends(e) || (e.Kind == tcptable.EventOpened && e.After.State == tcptable.StateTimeWait)
		}
	}
	lnClosed := requirement{"closed event for listener " + ln.Addr().String(), lt, kindIs(tcptable.EventClosed)}
	needs := map[*trace][]requirement{
		all: {lnOpened, lnClosed,
			{"opened event for the dialing end " + pair.Client().String(), client, kindIs(tcptable.EventOpened)},
			{"closed or TIME-WAIT event for the dialing end " + pair.Client().String(), client, dialerEnds},
			{"opened event for the accepted end " + pair.Server().String(), server, kindIs(tcptable.EventOpened)},
			{"closed event for the accepted end " + pair.Server().String(), server, kindIs(tcptable.EventClosed)},
		},
		lsn: {lnOpened, lnClosed},
	}
	for _, tr := range traces {
		if err := s.await(func() error { return missing(tr, needs[tr]) }); err != nil {
			s.t.Errorf("%v", err)
		}
	}

	roles := map[tuple]role{lt: roleListener, client: roleDialer, server: roleAccepted}
	s.checkTraceOwners(all.snapshot(), roles)
	for _, tr := range traces {
		events := tr.snapshot()
		s.report(traceProblems(tr, events, roles, s.me))
		tr.mu.Lock()
		if tr.concurrent {
			s.t.Errorf("Trace(%s) called its function from two goroutines at once", showQuery(tr.q))
		}
		tr.mu.Unlock()
	}
	for _, tr := range traces {
		s.stopTrace(tr)
	}
}

// traceKeyIsTableKey checks that the trace names listener tp by the Key
// Table gives it: a Watch matches traced events to snapshot rows by Key.
func (s *session) traceKeyIsTableKey(tr *trace, tp tuple) {
	s.t.Helper()
	opened := find(tr.snapshot(), tp, kindIs(tcptable.EventOpened))
	rows := s.eventually("listener "+tp.local.String()+" in LISTEN", func(rows []tcptable.Connection) error {
		_, err := expect(rows, tp, tcptable.StateListen)
		return err
	})
	row, _ := expect(rows, tp, tcptable.StateListen)
	if k := row.Key(); opened.Key != k {
		s.t.Errorf("Trace reports listener %v under Key %v, Table under Key %v: a Watch could not tell that they are one (Socket %d traced, %d in the table)",
			tp.local, opened.Key, k, opened.After.Socket, row.Socket)
	}
}

// checkTraceOwners checks who the trace says owns the Env's endpoints:
// the listener and the dialing end are opened by this process (the PID
// is taken where connect and listen run); the accepted end is this
// process' once it is accepted, in its opened or a later event. Declared
// PID gaps allow PID 0 as they do for Table; NoTracedOpenings allows it
// for the pair, whose life falls between two polls.
func (s *session) checkTraceOwners(events []tcptable.Event, roles map[tuple]role) {
	s.t.Helper()
	for tp, r := range roles {
		gap := [...]Gap{roleListener: NoListenerPID, roleDialer: NoDialerPID, roleAccepted: NoAcceptedPID}[r]
		if s.cfg.has(gap) || (s.cfg.has(NoIPv6PID) && tp.local.Addr().Is6()) || (s.cfg.has(NoTracedOpenings) && r != roleListener) {
			continue
		}
		owned := func(e *tcptable.Event) bool { return e.Kind == tcptable.EventOpened && e.After.PID == s.me.pid }
		if r == roleAccepted {
			owned = func(e *tcptable.Event) bool { return e.Kind != tcptable.EventClosed && e.After.PID == s.me.pid }
		}
		if find(events, tp, owned) != nil {
			continue
		}
		if e := find(events, tp, kindIs(tcptable.EventOpened)); e != nil {
			s.t.Errorf("traced %s: PID %d, want this process (%d)", describeEvent(e), e.After.PID, s.me.pid)
		}
	}
}

// traceProblems returns the rules the events of one trace break: each
// event's Key is its row's, its time lies within the check's run, its
// rows match the trace's query and the Env's rows name no other process
// than this one; per connection of the Env, the events tell a history
// Diff could report (see history).
func traceProblems(tr *trace, events []tcptable.Event, roles map[tuple]role, me self) []string {
	var p problems
	from, to := tr.started.Add(-traceClockSlack), time.Now().Add(traceClockSlack)
	q := tr.q
	for i := range events {
		e := &events[i]
		if e.Kind == tcptable.EventLost {
			continue
		}
		r := e.Row()
		if e.Key != r.Key() {
			p.note("traced event's Key is not its row's Key", fmt.Sprintf("Key %v for %s", e.Key, describeEvent(e)))
		}
		if e.Time.Before(from) || e.Time.After(to) {
			p.note(fmt.Sprintf("traced event's Time lies outside the check's run (%v to %v, give or take %v)",
				tr.started.Format(time.TimeOnly), time.Now().Format(time.TimeOnly), traceClockSlack),
				fmt.Sprintf("%v for %s", e.Time, describeEvent(e)))
		}
		if !matches(q, e) {
			p.note(fmt.Sprintf("traced event for a row that does not match the query %s", showQuery(q)), describeEvent(e))
		}
		if _, ours := roles[tupleOf(r)]; ours {
			for _, c := range []*tcptable.Connection{&e.Before, &e.After} {
				if c.PID != 0 && c.PID != me.pid {
					p.note(fmt.Sprintf("traced event names another process than this one (%d) for its own row", me.pid), describeEvent(e))
					break
				}
			}
		}
	}
	for tp := range roles {
		if broken, at := history(events, tp); broken != "" {
			p.note("traced events out of order: "+broken, describeEvent(at))
		}
	}
	return p.list()
}

// matches reports whether a traced event concerns a row q selects: the
// new row of an opened event, the old row of a closed one, either row of
// a change (a change may take a row into or out of the query).
func matches(q tcptable.Query, e *tcptable.Event) bool {
	switch e.Kind {
	case tcptable.EventOpened:
		return q.Match(e.After)
	case tcptable.EventClosed:
		return q.Match(e.Before)
	}
	return q.Match(e.Before) || q.Match(e.After)
}

// history checks that the events about tp, a connection born after the
// trace started, tell a story Diff could report: opened first and never
// twice in a row, changed and closed only while open, each state change
// and close starting from the last state reported, each owner change in
// it. After an EventLost anything may have been missed, so the story
// starts afresh. It returns the first break and the event that breaks.
func history(events []tcptable.Event, tp tuple) (string, *tcptable.Event) {
	var (
		open  bool
		state tcptable.State
		known = true // false after a loss: the next event is taken as it is
	)
	for i := range events {
		e := &events[i]
		if e.Kind == tcptable.EventLost {
			known = false
			continue
		}
		if tupleOf(e.Row()) != tp {
			continue
		}
		var broken string
		switch {
		case !known:
		case e.Kind == tcptable.EventOpened && open:
			broken = "opened again while open"
		case e.Kind != tcptable.EventOpened && !open:
			broken = e.Kind.String() + " while not open"
		case e.Kind == tcptable.EventStateChanged && e.Before.State != state,
			e.Kind == tcptable.EventClosed && e.Before.State != state:
			broken = fmt.Sprintf("%v from %v, but the last state reported was %v", e.Kind, e.Before.State, state)
		case e.Kind == tcptable.EventOwnerChanged && e.After.State != state:
			broken = fmt.Sprintf("owner-changed in state %v, but the last state reported was %v", e.After.State, state)
		}
		if broken != "" {
			return broken, e
		}
		known = true
		open = e.Kind != tcptable.EventClosed
		state = e.Row().State
	}
	return "", nil
}
