package conformance

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	"github.com/tcptable/tcptable"
)

// role says which end of an Env's endpoints a row is, for the PID gaps.
type role uint8

const (
	roleListener role = iota
	roleDialer
	roleAccepted
)

// tuple is a row's address four-tuple: how the suite recognises the rows
// its Env created among everything else on the host.
type tuple struct{ local, remote netip.AddrPort }

// compareTuples orders tuples by local, then remote address, so that
// messages list rows in a stable order.
func compareTuples(a, b tuple) int {
	if c := a.local.Compare(b.local); c != 0 {
		return c
	}
	return a.remote.Compare(b.remote)
}

// tupleOf returns c's four-tuple.
func tupleOf(c *tcptable.Connection) tuple { return tuple{c.Local, c.Remote} }

// unspecified returns the remote a listener on local shows: the
// unspecified address of local's family and port 0.
func unspecified(local netip.AddrPort) netip.AddrPort {
	if local.Addr().Is4() {
		return netip.AddrPortFrom(netip.IPv4Unspecified(), 0)
	}
	return netip.AddrPortFrom(netip.IPv6Unspecified(), 0)
}

// goodPort reports whether port's two bytes differ, so that a byte-order
// bug cannot hide.
func goodPort(port uint16) bool { return port>>8 != port&0xff }

// lookup returns the rows of rows with four-tuple tp.
func lookup(rows []tcptable.Connection, tp tuple) []*tcptable.Connection {
	var out []*tcptable.Connection
	for i := range rows {
		if tupleOf(&rows[i]) == tp {
			out = append(out, &rows[i])
		}
	}
	return out
}

// expect says that the row with four-tuple tp is in state (0: absent).
// It returns the row, or an error saying what the table shows instead.
func expect(rows []tcptable.Connection, tp tuple, state tcptable.State) (*tcptable.Connection, error) {
	found := lookup(rows, tp)
	switch {
	case state == 0 && len(found) == 0:
		return nil, nil
	case state == 0:
		return nil, fmt.Errorf("%v -> %v still reported: %s", tp.local, tp.remote, describeAll(found))
	case len(found) == 0:
		return nil, fmt.Errorf("no row %v -> %v in %v among %d rows%s", tp.local, tp.remote, state, len(rows), nearby(rows, tp))
	case len(found) > 1:
		return nil, fmt.Errorf("%d rows %v -> %v: %s", len(found), tp.local, tp.remote, describeAll(found))
	case found[0].State != state:
		return nil, fmt.Errorf("row %v -> %v is %v, want %v: %s", tp.local, tp.remote, found[0].State, state, describe(found[0]))
	}
	return found[0], nil
}

// nearby describes rows that share a port with tp, which helps to tell a
// swapped or byte-swapped row from a missing one.
func nearby(rows []tcptable.Connection, tp tuple) string {
	var near []*tcptable.Connection
	ports := []uint16{tp.local.Port(), tp.remote.Port()}
	for i := range rows {
		c := &rows[i]
		for _, p := range ports {
			if p != 0 && (c.Local.Port() == p || c.Remote.Port() == p) {
				near = append(near, c)
				break
			}
		}
	}
	if len(near) == 0 {
		return " (no row uses these ports)"
	}
	return "; rows on these ports: " + describeAll(near)
}

// describeAll formats up to maxExamples rows.
func describeAll(rows []*tcptable.Connection) string {
	var parts []string
	for i, c := range rows {
		if i == maxExamples {
			parts = append(parts, fmt.Sprintf("and %d more", len(rows)-i))
			break
		}
		parts = append(parts, describe(c))
	}
	return strings.Join(parts, ", ")
}

// expectAll combines expect over several rows, for eventually.
func expectAll(rows []tcptable.Connection, want map[tuple]tcptable.State) error {
	var errs []string
	for _, tp := range slices.SortedFunc(maps.Keys(want), compareTuples) {
		if _, err := expect(rows, tp, want[tp]); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

// listen makes a listener on network, closed at the end of the subtest.
func (s *session) listen(network string) Listener {
	s.t.Helper()
	ln, err := s.env.Listen(network)
	s.skipUnsupported("Listen("+network+")", err)
	s.t.Cleanup(func() { _ = ln.Close() })
	if a := ln.Addr(); !goodPort(a.Port()) || !a.Addr().IsLoopback() {
		s.t.Fatalf("Env.Listen(%s) gave %v: want a loopback address and a port whose two bytes differ", network, a)
	}
	return ln
}

// dial makes an established pair on network, closed at the end of the
// subtest, and waits until the provider shows both ends ESTABLISHED.
func (s *session) dial(network string) (pair Pair, client, server tuple, rows []tcptable.Connection) {
	s.t.Helper()
	pair, err := s.env.Dial(network)
	s.skipUnsupported("Dial("+network+")", err)
	s.t.Cleanup(func() { _ = pair.Close() })
	cl, sv := pair.Client(), pair.Server()
	for _, a := range []netip.AddrPort{cl, sv} {
		if !goodPort(a.Port()) || !a.Addr().IsLoopback() {
			s.t.Fatalf("Env.Dial(%s) gave client %v, server %v: want loopback addresses and ports whose two bytes differ", network, cl, sv)
		}
	}
	client, server = tuple{cl, sv}, tuple{sv, cl}
	rows = s.eventually("both ends of the pair "+cl.String()+" <-> "+sv.String()+" ESTABLISHED", func(rows []tcptable.Connection) error {
		return expectAll(rows, map[tuple]tcptable.State{client: tcptable.StateEstablished, server: tcptable.StateEstablished})
	})
	return pair, client, server, rows
}

// checkOwned checks the owner of one of the Env's live rows: the calling
// process, unless a declared gap allows PID 0.
func (s *session) checkOwned(c *tcptable.Connection, r role) {
	s.t.Helper()
	if c.PID == s.me.pid {
		return
	}
	gap := [...]Gap{roleListener: NoListenerPID, roleDialer: NoDialerPID, roleAccepted: NoAcceptedPID}[r]
	if c.PID == 0 && (s.cfg.has(gap) || (s.cfg.has(NoIPv6PID) && c.Family() == tcptable.IPv6)) {
		return
	}
	s.t.Errorf("row %s: PID %d, want this process (%d)", describe(c), c.PID, s.me.pid)
}

// checkListener: a listener appears in LISTEN with its exact address, the
// caller's PID and an unspecified remote, and disappears after Close.
func checkListener(s *session, network string) {
	ln := s.listen(network)
	tp := tuple{ln.Addr(), unspecified(ln.Addr())}
	var row *tcptable.Connection
	s.eventually("listener "+ln.Addr().String()+" in LISTEN", func(rows []tcptable.Connection) (err error) {
		row, err = expect(rows, tp, tcptable.StateListen)
		return err
	})
	s.checkOwned(row, roleListener)
	if err := ln.Close(); err != nil {
		s.t.Fatalf("Listener.Close: %v", err)
	}
	s.eventually("listener "+ln.Addr().String()+" gone after Close", func(rows []tcptable.Connection) error {
		_, err := expect(rows, tp, 0)
		return err
	})
}

// checkPair: both ends of a dialed pair appear ESTABLISHED, mirrored, and
// owned by the caller.
func checkPair(s *session, network string) {
	_, client, server, rows := s.dial(network)
	s.checkOwned(lookup(rows, client)[0], roleDialer)
	s.checkOwned(lookup(rows, server)[0], roleAccepted)
}

// checkHalfClose: after CloseWrite the client shows FIN-WAIT-2 and the
// server CLOSE-WAIT, both still owned by the caller.
func checkHalfClose(s *session, network string) {
	pair, client, server, _ := s.dial(network)
	if err := pair.CloseWrite(); err != nil {
		s.t.Fatalf("Pair.CloseWrite: %v", err)
	}
	rows := s.eventually("half-closed pair: client FIN-WAIT-2, server CLOSE-WAIT", func(rows []tcptable.Connection) error {
		return expectAll(rows, map[tuple]tcptable.State{client: tcptable.StateFinWait2, server: tcptable.StateCloseWait})
	})
	s.checkOwned(lookup(rows, client)[0], roleDialer)
	s.checkOwned(lookup(rows, server)[0], roleAccepted)
}

// checkTimeWait: after an active close the client shows TIME-WAIT owned by
// the kernel, and the server's row is gone. With NoTimeWait the client's
// row may be missing instead; if it is there, it must be right.
func checkTimeWait(s *session, network string) {
	pair, client, server, _ := s.dial(network)
	if err := pair.CloseActive(); err != nil {
		s.t.Fatalf("Pair.CloseActive: %v", err)
	}
	hidden := s.cfg.has(NoTimeWait)
	rows := s.eventually("actively closed pair: client TIME-WAIT, server gone", func(rows []tcptable.Connection) error {
		if hidden && len(lookup(rows, client)) == 0 {
			_, err := expect(rows, server, 0)
			return err
		}
		return expectAll(rows, map[tuple]tcptable.State{client: tcptable.StateTimeWait, server: 0})
	})
	found := lookup(rows, client)
	if len(found) == 0 {
		s.t.Logf("TIME-WAIT row %v -> %v not reported (gap %v)", client.local, client.remote, NoTimeWait)
		return
	}
	if c := found[0]; c.PID != 0 || c.OwnerStatus != tcptable.OwnerKernel {
		s.t.Errorf("TIME-WAIT row %s: want PID 0 and OwnerStatus %v", describe(c), tcptable.OwnerKernel)
	}
}
