//go:build linux

package netnstest

// Spec says which sockets a child builds. Every pair is made inside the
// child (both ends are its own), over 127.0.0.1 or ::1 alternately unless
// IPv4Only.
type Spec struct {
	// Listeners is the number of extra listening sockets.
	Listeners int
	// Established is the number of connected pairs (2 rows each).
	Established int
	// HalfClosed is the number of pairs whose client shut down writing:
	// a FIN-WAIT-2 row and a CLOSE-WAIT row each.
	HalfClosed int
	// TimeWait is the number of pairs closed client first: one TIME-WAIT
	// row each (the server end is gone).
	TimeWait int
	// IPv4Only keeps every socket on 127.0.0.1.
	IPv4Only bool
	// Share starts a grandchild that inherits the first listener, so that
	// socket has two owning processes.
	Share bool
	// Transfer, when not 0, makes the i-th Established pair move
	// TransferBytes(i) bytes from client to server and a third of that
	// back, each end reading everything, before the child is ready: idle
	// connections with known traffic.
	Transfer int
}

// TransferBytes is what pair i of a Spec with Transfer t sends from client
// to server; the server sends a third of it back.
func TransferBytes(t, i int) int { return t + 1000*i }

// Sockets returns how many rows the spec produces (listeners used to
// accept pairs included).
func (s Spec) Sockets() int {
	return s.Listeners + 2*s.Established + 2*s.HalfClosed + s.TimeWait + s.acceptors()
}

// pairsPerListener bounds the connections accepted on one listening port,
// well below the ephemeral port range.
const pairsPerListener = 10000

// acceptors is the number of listeners the pairs are accepted on.
func (s Spec) acceptors() int {
	n := s.Established + s.HalfClosed + s.TimeWait
	if n == 0 {
		return 0
	}
	a := (n + pairsPerListener - 1) / pairsPerListener
	if !s.IPv4Only && a < 2 {
		a = 2
	}
	return a
}
