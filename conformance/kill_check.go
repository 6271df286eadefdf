package conformance

import (
	"context"
	"errors"
	"net/netip"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/internal/testenv"
)

// checkKill: a provider that implements tcptable.Killer ends one end of a
// pair, by the row its Table reported:
//
//   - with a cancelled context, Kill fails with an error wrapping
//     context.Canceled and ends nothing;
//   - then Kill returns nil and the row is gone from the very next Table
//     (a kill is verified, never assumed), while a second pair and a
//     listener are untouched;
//   - with an EndingPair, both the killed end's holder and its peer see
//     the connection end;
//   - killing the same row again, or a made-up connection on the
//     listener's port, fails with an error wrapping tcptable.ErrNotFound
//     and ends nothing (a kill by address alone would hit that listener);
//   - then, optionally, the listener: ended (no LISTEN row left), or an
//     error wrapping tcptable.ErrNotSupported, which is logged.
//
// A provider that is no Killer, or that declared NoKill, skips; so does
// one whose Kill wraps tcptable.ErrNotSupported for the pair, logging the
// error as its gap, and one whose Kill wraps tcptable.ErrPermission,
// saying the suite lacks the privilege.
func checkKill(s *session, network string) {
	k, ok := s.p.(tcptable.Killer)
	switch {
	case !ok:
		s.t.Skipf("provider %T does not implement tcptable.Killer: no kill to check (gap %v)", s.p, NoKill)
	case s.cfg.has(NoKill):
		s.t.Skipf("Kill not checked: %s (declared gap %v)", s.cfg.gaps[NoKill], NoKill)
	}
	pair, client, _, rows := s.dial(network)
	victim := lookup(rows, client)[0].Clone()
	_, other, otherPeer, _ := s.dial(network)
	ln := s.listen(network)
	lt := tuple{ln.Addr(), unspecified(ln.Addr())}
	rows = s.eventually("listener "+ln.Addr().String()+" in LISTEN", func(rows []tcptable.Connection) error {
		_, err := expect(rows, lt, tcptable.StateListen)
		return err
	})
	listener := lookup(rows, lt)[0].Clone()
	untouched := map[tuple]tcptable.State{other: tcptable.StateEstablished, otherPeer: tcptable.StateEstablished, lt: tcptable.StateListen}

	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	err := s.kill(k, cancelled, victim)
	s.killRefused("Kill with a cancelled context", err)
	if !errors.Is(err, context.Canceled) {
		s.t.Errorf("Kill(%s) with a cancelled context returned %v, want an error wrapping context.Canceled", describe(&victim), err)
	}
	s.expectTable("after Kill with a cancelled context", map[tuple]tcptable.State{client: tcptable.StateEstablished})

	err = s.kill(k, context.Background(), victim)
	s.killRefused("Kill", err)
	if err != nil {
		s.t.Fatalf("Kill(%s): %v", describe(&victim), err)
	}
	gone := map[tuple]tcptable.State{client: 0}
	for tp, st := range untouched {
		gone[tp] = st
	}
	s.expectTable("right after Kill returned (a kill is verified, never assumed)", gone)
	s.awaitEnds(pair, client.local, client.remote)

	err = s.kill(k, context.Background(), victim)
	if !errors.Is(err, tcptable.ErrNotFound) {
		s.t.Errorf("Kill(%s) of a row already killed returned %v, want an error wrapping tcptable.ErrNotFound", describe(&victim), err)
	}
	madeUp := tcptable.Connection{State: tcptable.StateEstablished, Local: ln.Addr(), Remote: client.local}
	err = s.kill(k, context.Background(), madeUp)
	if !errors.Is(err, tcptable.ErrNotFound) {
		s.t.Errorf("Kill(%s), a connection that does not exist on a listener's port, returned %v, want an error wrapping tcptable.ErrNotFound", describe(&madeUp), err)
	}
	s.expectTable("after Kill of rows that do not exist", untouched)

	err = s.kill(k, context.Background(), listener)
	switch {
	case errors.Is(err, tcptable.ErrNotSupported), errors.Is(err, tcptable.ErrPermission):
		s.t.Logf("Kill(%s): %v: ending a listener is not checked here", describe(&listener), err)
	case err != nil:
		s.t.Errorf("Kill(%s) of a listener: %v", describe(&listener), err)
	default:
		rows := s.table(tcptable.Query{})
		for _, c := range lookup(rows, lt) {
			if c.State == tcptable.StateListen && c.Key() == listener.Key() {
				s.t.Errorf("listener %s still listening right after Kill returned nil", describe(c))
			}
		}
	}
}

// kill calls Kill through guard, so that a provider that panics or hangs
// is reported instead of stopping the suite; ctx without a deadline gets
// the suite's timeout.
func (s *session) kill(k tcptable.Killer, ctx context.Context, c tcptable.Connection) error {
	s.t.Helper()
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.cfg.timeout)
		defer cancel()
	}
	a := s.guard(ctx, func() string { return "Kill(" + describe(&c) + ")" }, func() answer {
		return answer{err: k.Kill(ctx, c.Clone())}
	})
	if a.broken != "" {
		s.t.Fatalf("%s", a.broken)
	}
	return a.err
}

// killRefused ends the subtest when err says Kill cannot end the suite's
// connection here: a skip that logs the gap (declared with NoKill, or
// declared by the error wrapping tcptable.ErrNotSupported), or a skip for
// a missing privilege (a failure when requireEnv is set).
func (s *session) killRefused(what string, err error) {
	s.t.Helper()
	switch {
	case errors.Is(err, tcptable.ErrNotSupported):
		s.t.Skipf("%s: %v (gap %v)", what, err, NoKill)
	case errors.Is(err, tcptable.ErrPermission):
		testenv.SkipOrFail(s.t, "%s: %v: run the suite with the privilege to end connections to check Kill", what, err)
	}
}

// expectTable fails the subtest unless one Table call shows every tuple of
// want in its state (0: absent).
func (s *session) expectTable(when string, want map[tuple]tcptable.State) {
	s.t.Helper()
	if err := expectAll(s.table(tcptable.Query{}), want); err != nil {
		s.t.Errorf("%s: %v", when, err)
	}
}

// awaitEnds checks, with an EndingPair, that both ends of a killed
// connection see it end within the suite's timeout.
func (s *session) awaitEnds(p Pair, killed, peer netip.AddrPort) {
	s.t.Helper()
	ep, ok := p.(EndingPair)
	if !ok {
		s.t.Logf("the Env's pairs are no EndingPair: whether the killed connection's ends saw it end is not checked")
		return
	}
	for _, end := range []struct {
		who  string
		addr netip.AddrPort
	}{{"the peer", peer}, {"the process holding the killed end", killed}} {
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.timeout)
		err := ep.AwaitEnd(ctx, end.addr)
		cancel()
		if err != nil {
			s.t.Errorf("after Kill, %s (%v) did not see the connection end: %v", end.who, end.addr, err)
		}
	}
}
