package conformance

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/internal/testenv"
)

// fixture is a set of endpoints made for the table-wide checks: on each
// network, a listener, an established pair and a half-closed pair.
type fixture struct {
	want  map[tuple]tcptable.State // every row the Env made, and its state
	roles map[tuple]role
	nets  map[string]*fixtureNet
}

// fixtureNet holds one network's endpoints.
type fixtureNet struct {
	listener       tuple
	client, server tuple // the established pair
}

// makeFixture creates the endpoints on tcp4 and, unless the Env cannot,
// tcp6, and waits until the provider shows all of them. halfClosed adds a
// half-closed pair on each network.
func (s *session) makeFixture(halfClosed bool) (*fixture, []tcptable.Connection) {
	s.t.Helper()
	f := &fixture{want: map[tuple]tcptable.State{}, roles: map[tuple]role{}, nets: map[string]*fixtureNet{}}
	for _, nw := range networks {
		ln, err := s.env.Listen(nw)
		if nw == "tcp6" && errors.Is(err, tcptable.ErrNotSupported) {
			if testenv.Required() {
				s.t.Fatalf("Env cannot Listen(tcp6): %v (%s is set: a missing requirement is a failure)", err, testenv.RequireEnv)
			}
			s.t.Logf("IPv6 rows left out: %v", err)
			continue
		}
		if err != nil {
			s.t.Fatalf("Env.Listen(%s): %v", nw, err)
		}
		s.t.Cleanup(func() { _ = ln.Close() })
		n := &fixtureNet{listener: tuple{ln.Addr(), unspecified(ln.Addr())}}
		f.add(n.listener, tcptable.StateListen, roleListener)
		n.client, n.server = s.fixturePair(f, nw, tcptable.StateEstablished, tcptable.StateEstablished)
		if halfClosed {
			s.fixturePair(f, nw, tcptable.StateFinWait2, tcptable.StateCloseWait)
		}
		f.nets[nw] = n
	}
	rows := s.eventually("every endpoint the Env made", func(rows []tcptable.Connection) error {
		return expectAll(rows, f.want)
	})
	return f, rows
}

// fixturePair dials a pair on network and, if the wanted client state is
// FIN-WAIT-2, half-closes it.
func (s *session) fixturePair(f *fixture, network string, cs, ss tcptable.State) (client, server tuple) {
	s.t.Helper()
	pair, err := s.env.Dial(network)
	if err != nil {
		s.t.Fatalf("Env.Dial(%s): %v", network, err)
	}
	s.t.Cleanup(func() { _ = pair.Close() })
	if cs == tcptable.StateFinWait2 {
		if err := pair.CloseWrite(); err != nil {
			s.t.Fatalf("Pair.CloseWrite: %v", err)
		}
	}
	client, server = tuple{pair.Client(), pair.Server()}, tuple{pair.Server(), pair.Client()}
	f.add(client, cs, roleDialer)
	f.add(server, ss, roleAccepted)
	return client, server
}

// add records an expected row.
func (f *fixture) add(tp tuple, st tcptable.State, r role) {
	f.want[tp] = st
	f.roles[tp] = r
}

// ours returns the states of the fixture's rows among rows.
func (f *fixture) ours(rows []tcptable.Connection) map[tuple]tcptable.State {
	out := map[tuple]tcptable.State{}
	for i := range rows {
		if tp := tupleOf(&rows[i]); f.want[tp] != 0 {
			out[tp] = rows[i].State
		}
	}
	return out
}

// queries returns the filtered queries the Filters check asks.
func (f *fixture) queries(me self, rows []tcptable.Connection) []tcptable.Query {
	var qs []tcptable.Query
	for _, class := range []tcptable.Class{tcptable.ClassAll, tcptable.ClassListeners, tcptable.ClassConnections} {
		for _, fam := range []tcptable.Family{tcptable.AnyFamily, tcptable.IPv4, tcptable.IPv6} {
			qs = append(qs, tcptable.Query{Class: class, Family: fam})
		}
	}
	n := f.nets["tcp4"]
	qs = append(qs,
		tcptable.Query{States: []tcptable.State{tcptable.StateEstablished}},
		tcptable.Query{States: []tcptable.State{tcptable.StateListen, tcptable.StateCloseWait}},
		tcptable.Query{Class: tcptable.ClassConnections, States: []tcptable.State{tcptable.StateFinWait2, tcptable.StateListen}},
		tcptable.Query{Class: tcptable.ClassListeners, States: []tcptable.State{tcptable.StateEstablished}},
		tcptable.Query{LocalPort: n.listener.local.Port()},
		tcptable.Query{RemotePort: n.server.local.Port(), Owners: tcptable.OwnerPIDs},
		tcptable.Query{Port: n.client.local.Port(), Family: tcptable.IPv4},
		tcptable.Query{PID: me.pid},
		tcptable.Query{PID: me.pid, Owners: tcptable.OwnerNone, Class: tcptable.ClassConnections},
	)
	for _, c := range lookup(rows, n.listener) {
		if c.PID == me.pid && c.Module.Name != "" {
			qs = append(qs, tcptable.Query{Process: strings.ToUpper(c.Module.Name), Owners: tcptable.OwnerNone})
		}
	}
	return qs
}

// checkFilters: a filtered answer holds exactly the Env's rows that
// Query.Filter keeps from an unfiltered answer, and nothing Match rejects.
func checkFilters(s *session, _ string) {
	f, _ := s.makeFixture(true)
	all := s.table(tcptable.Query{})
	if err := expectAll(all, f.want); err != nil {
		s.t.Fatalf("the Env's rows changed between two answers: %v", err)
	}
	for _, q := range f.queries(s.me, all) {
		want := f.ours(q.Filter(slices.Clone(all)))
		got := f.ours(s.table(q))
		if !maps.Equal(want, got) {
			s.t.Errorf("Table(%s) returned the Env's rows %s, want %s (Query.Filter on an unfiltered answer)",
				showQuery(q), showStates(got), showStates(want))
		}
	}
}

// showStates formats a set of rows and states in a stable order.
func showStates(m map[tuple]tcptable.State) string {
	var parts []string
	for tp, st := range m {
		parts = append(parts, fmt.Sprintf("%v->%v %v", tp.local, tp.remote, st))
	}
	slices.Sort(parts)
	return "[" + strings.Join(parts, ", ") + "]"
}

// checkOwners: OwnerPIDs leaves modules out and OwnerNone leaves PIDs out,
// both saying OwnerNotRequested, on every row the Env made.
func checkOwners(s *session, _ string) {
	f, _ := s.makeFixture(false)
	for _, q := range []tcptable.Query{{Owners: tcptable.OwnerPIDs}, {Owners: tcptable.OwnerNone}} {
		rows := s.table(q)
		for tp, r := range f.roles {
			c, err := expect(rows, tp, f.want[tp])
			if err != nil {
				s.t.Errorf("Table(%s): %v", showQuery(q), err)
				continue
			}
			if q.Owners == tcptable.OwnerPIDs {
				s.checkOwned(c, r)
			} else if c.PID != 0 || c.OwnerStatus != tcptable.OwnerNotRequested {
				s.t.Errorf("Table(%s): row %s: want PID 0 and OwnerStatus %v", showQuery(q), describe(c), tcptable.OwnerNotRequested)
			}
			if !c.Module.IsZero() || c.ModuleStatus != tcptable.OwnerNotRequested {
				s.t.Errorf("Table(%s): row %s: want no Module and ModuleStatus %v", showQuery(q), describe(c), tcptable.OwnerNotRequested)
			}
		}
	}
}
