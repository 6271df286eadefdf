package conformance

import (
	"fmt"
	"net/netip"

	"github.com/tcptable/tcptable"
)

// listenUnspecified makes a listener on [::] (dual stack unless v6only),
// closed at the end of the subtest.
func (s *session) listenUnspecified(env DualStackEnv, v6only bool) tuple {
	s.t.Helper()
	ln, err := env.ListenUnspecified(v6only)
	s.skipUnsupported(fmt.Sprintf("ListenUnspecified(v6only=%v)", v6only), err)
	s.t.Cleanup(func() { _ = ln.Close() })
	if a := ln.Addr(); !goodPort(a.Port()) || a.Addr() != netip.IPv6Unspecified() {
		s.t.Fatalf("Env.ListenUnspecified(%v) gave %v: want [::] and a port whose two bytes differ", v6only, a)
	}
	return tuple{ln.Addr(), unspecified(ln.Addr())}
}

// checkDualStack (only with a DualStackEnv): a listener on [::] with
// IPV6_V6ONLY off is reported with DualStack, one with IPV6_V6ONLY on
// without it, and IPv4 queries (Family, ports, class) find the first and
// not the second. With NoDualStack the first may say DualStack false, and
// IPv4 queries must then leave it out, as Query.Match says.
func checkDualStack(s *session, _ string) {
	env, ok := s.env.(DualStackEnv)
	if !ok {
		s.t.Skipf("Env %T does not implement conformance.DualStackEnv: it cannot open listeners on [::]", s.env)
	}
	dual := s.listenUnspecified(env, false)
	only := s.listenUnspecified(env, true)
	var drow, orow *tcptable.Connection
	s.eventually(fmt.Sprintf("listeners %v (dual stack) and %v (IPV6_V6ONLY) in LISTEN", dual.local, only.local), func(rows []tcptable.Connection) (err error) {
		if drow, err = expect(rows, dual, tcptable.StateListen); err != nil {
			return err
		}
		orow, err = expect(rows, only, tcptable.StateListen)
		return err
	})
	s.checkOwned(drow, roleListener)
	s.checkOwned(orow, roleListener)
	if orow.DualStack {
		s.t.Errorf("listener %s has IPV6_V6ONLY on: want DualStack false", describe(orow))
	}
	switch {
	case drow.DualStack:
	case s.cfg.has(NoDualStack):
		s.t.Logf("listener %v: DualStack not reported (gap %v)", dual.local, NoDualStack)
	default:
		s.t.Errorf("listener %s has IPV6_V6ONLY off: want DualStack true (declare %v if the OS does not say)", describe(drow), NoDualStack)
	}
	// What each query must return of the two rows follows from Match and
	// the rows as reported: without the gap, IPv4 queries find the
	// dual-stack listener; with it, an unreported one is an IPv6 row only.
	port := dual.local.Port()
	for _, q := range []tcptable.Query{
		{Family: tcptable.IPv4},
		{Family: tcptable.IPv4, LocalPort: port},
		{Family: tcptable.IPv4, Port: port, Class: tcptable.ClassListeners, Owners: tcptable.OwnerNone},
		{Family: tcptable.IPv4, Class: tcptable.ClassConnections},
		{Family: tcptable.IPv4, States: []tcptable.State{tcptable.StateEstablished}},
		{Family: tcptable.IPv6, Class: tcptable.ClassListeners},
		{Family: tcptable.IPv4, LocalPort: only.local.Port()},
	} {
		rows := s.table(q)
		for _, want := range []*tcptable.Connection{drow, orow} {
			tp := tupleOf(want)
			switch found := len(lookup(rows, tp)) > 0; {
			case found && !q.Match(*want):
				s.t.Errorf("Table(%s) returned %s, which it does not match", showQuery(q), describe(want))
			case !found && q.Match(*want):
				s.t.Errorf("Table(%s) left out %s (a dual-stack socket accepts IPv4: read the IPv6 table too, see Query.ReadFamily)", showQuery(q), describe(want))
			}
		}
	}
}
