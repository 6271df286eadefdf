package conformance

import (
	"context"
	"net/netip"
	"testing"

	"github.com/tcptable/tcptable"
)

// Env creates real (or, for the mock, simulated) endpoints that the provider
// under test must then report. Every endpoint is owned by the calling
// process (os.Getpid()) and lives on a loopback address.
//
// OSEnv returns the Env of real sockets; *mock.Provider is an Env that
// simulates the same rows. An Env that cannot offer something (for example
// IPv6 on a host without ::1) returns an error wrapping
// tcptable.ErrNotSupported, and the suite skips the affected checks with
// that error as the reason; a network other than "tcp4" and "tcp6" is an
// error wrapping tcptable.ErrInvalid. Any other error fails the check.
//
// The suite calls an Env from one goroutine at a time per subtest, except
// in the Concurrent check, where Listen runs while Table calls are in
// flight. docs/conformance.md describes the contract in full.
type Env interface {
	// Listen opens a listener on the loopback address of network ("tcp4":
	// 127.0.0.1, "tcp6": ::1) on a port whose two bytes differ, so that a
	// byte-order bug cannot hide.
	Listen(network string) (Listener, error)
	// Dial opens an ESTABLISHED pair over the loopback address of network:
	// a dialing end and the end a listener accepted. Ports on both ends
	// have two different bytes. The listener used to accept it may be
	// closed already when Dial returns.
	Dial(network string) (Pair, error)
}

// SharingEnv is an Env that can also make another process hold one of its
// listening sockets, as a forked child or a socket passed with SCM_RIGHTS
// or DuplicateHandle does. It is optional: the SharedListener check runs
// only when the Env implements it, and skips otherwise. OSEnv implements
// it on Unix; *mock.Provider simulates it.
type SharingEnv interface {
	Env
	// Share makes another process hold l, a listener this Env made, until
	// stop is called. It returns that process' PID. stop ends the holding
	// (OSEnv kills and waits for the child) and is idempotent. An Env that
	// cannot share here returns an error wrapping tcptable.ErrNotSupported
	// with the reason; a Listener from another Env is an error wrapping
	// tcptable.ErrInvalid.
	Share(l Listener) (pid uint32, stop func() error, err error)
}

// DualStackEnv is an Env that can also open IPv6 listeners on the
// unspecified address ::, with IPV6_V6ONLY off (a dual-stack listener,
// which accepts IPv4 connections too) or on. It is optional: the DualStack
// check runs only when the Env implements it, and skips otherwise. OSEnv
// implements it on Unix and Windows; *mock.Provider simulates it.
type DualStackEnv interface {
	Env
	// ListenUnspecified opens a listener on [::] on a port whose two bytes
	// differ. With v6only false its socket accepts IPv4 connections too
	// (IPV6_V6ONLY off); with v6only true, IPv6 ones only. Unlike Listen's,
	// the listener is reachable on every interface while it is open (the
	// suite never connects to it). An Env that cannot open one here (no
	// IPv6) returns an error wrapping tcptable.ErrNotSupported.
	ListenUnspecified(v6only bool) (Listener, error)
}

// NamingEnv is an Env that can also make a listener held by another
// process with a name of the suite's choosing, longer than the 15 bytes
// Linux keeps of a process name (macOS keeps 16): the LongName check then
// asks that the provider report the whole name. It is optional: LongName
// runs only when the Env implements it, and skips otherwise. OSEnv
// implements it on Unix (it runs a copy of "sleep" under that name);
// *mock.Provider simulates it.
type NamingEnv interface {
	Env
	// ListenAs starts a process whose executable is named name (a base
	// name, without a slash) and makes it, alone, hold a listener on
	// network's loopback address, on a port whose two bytes differ. It
	// returns the listener, whose Close stops that process, and the
	// process's PID. An Env that cannot here returns an error wrapping
	// tcptable.ErrNotSupported with the reason.
	ListenAs(network, name string) (l Listener, pid uint32, err error)
}

// Listener is a listening endpoint an Env made.
type Listener interface {
	// Addr is the listener's local address, e.g. 127.0.0.1:4660.
	Addr() netip.AddrPort
	// Close closes the listener; its row then disappears.
	Close() error
}

// Pair is an established connection an Env made: two rows, Client→Server
// and Server→Client.
type Pair interface {
	// Client is the local address of the dialing end.
	Client() netip.AddrPort
	// Server is the local address of the accepted end.
	Server() netip.AddrPort
	// CloseWrite half-closes the pair: the client shuts down writing and
	// the server reads the EOF without closing. The client's row then
	// shows FIN-WAIT-2 and the server's CLOSE-WAIT.
	CloseWrite() error
	// CloseActive closes the client first and then the server, leaving the
	// client's row in TIME-WAIT, owned by the kernel (PID 0) and the
	// server's row gone.
	CloseActive() error
	// Close releases everything the pair holds. It is idempotent.
	Close() error
}

// TransferPair is a Pair that can move bytes between its ends, for the
// Stats check. It is optional: the check runs only when the Env's pairs
// implement it, and skips (saying so) otherwise. OSEnv's pairs write and
// read real bytes; the mock's advance their rows' counters.
type TransferPair interface {
	Pair
	// Transfer sends clientToServer bytes from the client to the server
	// and serverToClient bytes from the server to the client, both ways at
	// once, and returns when each end has read every byte sent to it. A
	// negative count is an error wrapping tcptable.ErrInvalid.
	Transfer(clientToServer, serverToClient int) error
}

// EndingPair is a Pair whose ends can be watched for the connection's end,
// as a program reading from them would see it. It is optional: the Kill
// check uses it to prove that a killed connection really ended (the killed
// end's holder and its peer both see the end) and, without it, checks the
// rows only and says so. OSEnv's pairs read from their real sockets; the
// mock's see a simulated end.
type EndingPair interface {
	Pair
	// AwaitEnd waits until a read on the end whose local address is local
	// (Client() or Server()) returns end of file or an error, as it does
	// once the connection is reset, aborted or closed by the peer, and
	// returns nil; data read meanwhile is discarded. It returns an error
	// wrapping ctx.Err() when ctx ends first, one wrapping net.ErrClosed
	// after Close, and one wrapping tcptable.ErrInvalid for an address
	// that is neither end.
	AwaitEnd(ctx context.Context, local netip.AddrPort) error
}

// MakeProvider returns a fresh provider to test and the Env whose endpoints
// that provider must report. Run calls it once per subtest and closes the
// provider when the subtest ends; it may call t.Skip or t.Fatal (for
// example when the provider needs privileges the test lacks).
type MakeProvider func(t *testing.T) (tcptable.Provider, Env)
