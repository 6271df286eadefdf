package tcptable

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
)

// Provider is a source of the host's TCP table. Implementations live in
// providers/...; every one of them passes the conformance suite.
//
// A Provider is safe for concurrent use. Table never panics on what the OS
// returns: malformed data is an error that says what was wrong.
type Provider interface {
	// Table returns a snapshot of the TCP table that matches q: exactly the
	// rows for which q.Match reports true, in no particular order. When ctx
	// is done before the snapshot is complete, Table returns an error that
	// wraps ctx.Err().
	Table(ctx context.Context, q Query) ([]Connection, error)
	// Close releases the provider's resources. It is idempotent; Table
	// after Close returns an error wrapping ErrClosed.
	Close() error
}

// ReusingProvider is a Provider that can build an answer in the backing
// array of an earlier one, so that a poller keeps a fixed amount of memory
// instead of allocating a table per poll (200,000 rows are 45 MB). The
// Linux provider implements it, and Watcher uses it when the provider
// does. A type that embeds a ReusingProvider and overrides Table must
// override TableInto too, or Watcher will call the embedded one.
type ReusingProvider interface {
	Provider
	// TableInto is Table that may build the answer in buf's backing array
	// (its whole capacity), which the caller hands over and must no longer
	// use. A nil or too small buf is not used.
	TableInto(ctx context.Context, q Query, buf []Connection) ([]Connection, error)
}

// Tracer is implemented by providers that can report changes as the OS makes
// them, instead of between two polls: a connection that lives for a
// millisecond is reported opened and closed.
//
// Trace calls fn, in the order the OS made them, with an Event for every
// change to a row that q matches (EventOpened, EventStateChanged,
// EventOwnerChanged, EventClosed) until ctx is done (it then returns an
// error wrapping ctx.Err()) or fn returns an error (it returns that error).
// Event.Time is when the OS made the change. Rows carry PID and Module where
// the OS lets the change be attributed to a process, and Created for the
// connection's birth. A trace never drops an event silently: when the OS or
// the provider lost events, fn receives an EventLost event saying how many
// before any later event. A provider that cannot trace here (missing
// privilege, kernel too old) returns an error wrapping ErrNotSupported that
// says why, before calling fn.
//
// fn is called from one goroutine at a time. A change that takes a row
// into or out of q's selection may be reported as EventOpened or
// EventClosed, or as the change itself. A row carries the Key that Table
// gives the same socket (a listener's Socket included), so that a Watcher
// can match traced events to snapshot rows. A Tracer that can say when its
// trace is live implements ReadyTracer too; the conformance suite's Trace
// check holds every Tracer to these rules.
type Tracer interface {
	Trace(ctx context.Context, q Query, fn func(Event) error) error
}

// Killer is implemented by providers that can end a connection, as
// SetTcpEntry with MIB_TCP_STATE_DELETE_TCB does on Windows and SOCK_DESTROY
// on Linux.
//
// Kill ends the connection (or closes the listener) that c identifies, by
// its Key, and verifies that the OS no longer lists it: a kill is never
// assumed. The error wraps ErrNotFound when no such row exists,
// ErrPermission when the caller may not end it, ErrNotSupported when the
// OS or provider cannot end such a row, and ctx.Err() when ctx ends first.
type Killer interface {
	Kill(ctx context.Context, c Connection) error
}

// ErrNotFound is wrapped by the error Kill returns when the connection it
// was asked to end is not in the table.
var ErrNotFound = errors.New("tcptable: no such connection")

// ErrPermission is wrapped by errors that say the caller lacks the
// privilege an operation needs (CAP_NET_ADMIN, Administrator). It is
// fs.ErrPermission, so errors.Is(err, os.ErrPermission) holds too.
var ErrPermission = fs.ErrPermission

// ErrNotSupported is wrapped by every error that says an operation is not
// available on this OS or with this provider; the wrapping error names both.
var ErrNotSupported = errors.New("not supported")

// ErrClosed is wrapped by the error that Table returns after Close.
var ErrClosed = errors.New("tcptable: provider closed")

// ErrInconsistent is wrapped by the error a provider returns together with a
// partial table when the OS reported that the table changed while it was
// being read, and bounded retries did not produce a consistent snapshot.
var ErrInconsistent = errors.New("tcptable: table changed while it was read; snapshot may be inconsistent")

// Family selects the address family of the rows. The zero value means both.
type Family uint8

// The address families. A dual-stack (AF_INET6) socket that carries an
// IPv4-mapped address (::ffff:a.b.c.d) belongs to IPv6, as it does in the
// OS's own table (MIB_TCP6TABLE on Windows, AF_INET6 in sock_diag).
const (
	AnyFamily Family = iota // both IPv4 and IPv6
	IPv4                    // AF_INET (2)
	IPv6                    // AF_INET6 (23 on Windows, 10 on Linux)
)

// String returns "any", "ipv4", "ipv6" or "Family(N)".
func (f Family) String() string { return nameOf(familyNames[:], "Family", uint8(f)) }

var familyNames = [...]string{AnyFamily: "any", IPv4: "ipv4", IPv6: "ipv6"}

// Class selects rows by their listening status, mirroring the
// TCP_TABLE_OWNER_MODULE_ALL, _LISTENER and _CONNECTIONS table classes.
// The zero value is ClassAll.
type Class uint8

// The table classes.
const (
	ClassAll         Class = iota // every row (TCP_TABLE_OWNER_MODULE_ALL)
	ClassListeners                // state LISTEN only (TCP_TABLE_OWNER_MODULE_LISTENER)
	ClassConnections              // every state except LISTEN (TCP_TABLE_OWNER_MODULE_CONNECTIONS)
)

// String returns "all", "listeners", "connections" or "Class(N)".
func (c Class) String() string { return nameOf(classNames[:], "Class", uint8(c)) }

var classNames = [...]string{ClassAll: "all", ClassListeners: "listeners", ClassConnections: "connections"}

// OwnerDetail says how much owner information a Table call resolves.
// Resolution is where the time goes on most OSes, so a caller that needs no
// process names should say so. The zero value resolves everything.
type OwnerDetail uint8

// The owner detail levels.
const (
	OwnerModules OwnerDetail = iota // PIDs and modules (process name and path)
	OwnerPIDs                       // PIDs only; Module is left empty with ModuleStatus OwnerNotRequested
	OwnerNone                       // neither; PID is 0 with OwnerStatus OwnerNotRequested
)

// String returns "modules", "pids", "none" or "OwnerDetail(N)".
func (d OwnerDetail) String() string { return nameOf(ownerDetailNames[:], "OwnerDetail", uint8(d)) }

var ownerDetailNames = [...]string{OwnerModules: "modules", OwnerPIDs: "pids", OwnerNone: "none"}

// WantPIDs reports whether a query at this level resolves PIDs.
func (d OwnerDetail) WantPIDs() bool { return d == OwnerModules || d == OwnerPIDs }

// WantModules reports whether a query at this level resolves modules.
func (d OwnerDetail) WantModules() bool { return d == OwnerModules }

// Apply removes from rows the owner detail that a query at level d does not
// ask for, as every provider must before it answers: below OwnerModules,
// Module and Container (found with the module, from the owning process)
// are empty, ModuleSource is SourceNone and ModuleStatus is
// OwnerNotRequested; at OwnerNone, PID and OtherPIDs are cleared too and
// OwnerStatus is OwnerNotRequested. At OwnerModules it changes nothing.
// What the OS hands over with the row itself, resolved or not, stays:
// OwningModuleInfo, UID.
//
// A provider calls it with q.Detail(), not q.Owners, so that the PIDs and
// modules its PID and Process conditions need are kept. The in-tree
// providers use it; a third-party provider can too, and pass the
// conformance suite's Owners check by it.
func (d OwnerDetail) Apply(rows []Connection) {
	if d.WantModules() {
		return
	}
	pids := d.WantPIDs()
	for i := range rows {
		c := &rows[i]
		c.Module, c.ModuleSource, c.ModuleStatus, c.Container = Module{}, SourceNone, OwnerNotRequested, ""
		if !pids {
			c.PID, c.OtherPIDs, c.OwnerStatus = 0, nil, OwnerNotRequested
		}
	}
}

// Query selects rows of the table and says how much owner detail to
// resolve. The zero Query means the whole table, IPv4 and IPv6, with PIDs
// and modules.
//
// Every condition narrows the result (they are ANDed); a zero field imposes
// no condition. Match is the one definition of what a Query selects; every
// provider returns exactly the rows Match accepts, whatever it pushes down
// to the OS for speed.
type Query struct {
	// Class selects listeners, connections or both.
	Class Class
	// Family selects IPv4, IPv6 or both. IPv4 selects dual-stack IPv6
	// rows too (Connection.DualStack): they accept IPv4 connections.
	Family Family
	// States, when not empty, keeps only rows in one of these states. It is
	// combined with Class: ClassListeners with States [ESTABLISHED] selects
	// nothing. A row in a state the OS reports but the model does not
	// define has State 0 (with the OS's code in OSState): it matches a
	// query without States unless Class is ClassListeners, and no query
	// with States (which holds MIB_TCP_STATE values only).
	States []State
	// LocalPort and RemotePort, when not 0, keep only rows with that local
	// or remote port. Port, when not 0, keeps rows whose local or remote
	// port is Port.
	LocalPort, RemotePort, Port uint16
	// PID, when not 0, keeps only rows that PID owns (as Connection.PID or
	// one of Connection.OtherPIDs). A PID condition makes the provider
	// resolve PIDs even when Owners is OwnerNone.
	PID uint32
	// Process, when not empty, keeps only rows whose Module.Name equals it,
	// ignoring case. It makes the provider resolve modules whatever Owners
	// says.
	Process string
	// Owners says how much owner detail to resolve.
	Owners OwnerDetail
	// Stats asks the provider to fill Connection.Stats with each row's
	// traffic counters where the OS gives them. It selects no rows; left
	// false, Stats stays nil and the provider does not pay to read them.
	Stats bool
}

// Validate reports whether q is well formed: Class, Family and Owners
// within their constants, and every state in States a MIB_TCP_STATE value
// (1..12). Otherwise it returns an error that wraps ErrInvalid and names the
// field and value. Every provider checks its query with Validate before
// reading anything, so that an unknown value is never silently read as
// "all" or "none".
//
// The error's text names no package ("query: invalid input: unknown Class
// Class(7)"): it is a cause, which a provider returns wrapped (%w) after
// its own prefix, so that the message names one package
// ("tcptable/linux: Table: query: ...").
func (q Query) Validate() error {
	switch {
	case q.Class > ClassConnections:
		return fmt.Errorf("query: %w: unknown Class %v", ErrInvalid, q.Class)
	case q.Family > IPv6:
		return fmt.Errorf("query: %w: unknown Family %v", ErrInvalid, q.Family)
	case q.Owners > OwnerNone:
		return fmt.Errorf("query: %w: unknown Owners %v", ErrInvalid, q.Owners)
	}
	for _, s := range q.States {
		if !s.Valid() {
			return fmt.Errorf("query: %w: States holds %v, not a MIB_TCP_STATE value (1..12)", ErrInvalid, s)
		}
	}
	return nil
}

// Detail returns the owner detail a provider must resolve to answer q:
// q.Owners, raised as far as the PID and Process conditions need.
func (q Query) Detail() OwnerDetail {
	switch {
	case q.Process != "":
		return OwnerModules
	case q.PID != 0 && !q.Owners.WantPIDs():
		return OwnerPIDs
	}
	return q.Owners
}

// MatchState reports whether a row in state s can match q, looking only at
// Class and States. Providers use it to push the state condition down to the
// OS (for example into sock_diag's idiag_states bitmask). State 0, an OS
// state the model does not define, matches ClassAll and ClassConnections
// without States, and nothing else.
func (q Query) MatchState(s State) bool {
	switch q.Class {
	case ClassListeners:
		if s != StateListen {
			return false
		}
	case ClassConnections:
		if s == StateListen {
			return false
		}
	}
	return len(q.States) == 0 || slices.Contains(q.States, s)
}

// MatchFamily reports whether q's Family condition accepts a row of family
// f (Connection.Family) that is not dual stack: q.Family is AnyFamily or f.
// A dual-stack row (Connection.DualStack) meets an IPv4 condition too;
// MatchAddr accounts for it, and ReadFamily says which of the OS's tables a
// provider must read to find such rows.
func (q Query) MatchFamily(f Family) bool { return q.Family == AnyFamily || q.Family == f }

// ReadFamily reports whether a provider that keeps one table per family
// (AF_INET and AF_INET6, as sock_diag, /proc/net and GetExtendedTcpTable
// do) must read the table of family f to answer q: when rows of f can
// match, and for an IPv4 query also the IPv6 table, where the OS lists
// dual-stack sockets. A dual-stack socket is bound to :: and not connected,
// so it is a listener or a bound socket (LISTEN or CLOSED): an IPv4 query
// that selects neither state needs no IPv6 rows.
func (q Query) ReadFamily(f Family) bool {
	if q.MatchFamily(f) {
		return true
	}
	return f == IPv6 && q.Family == IPv4 && (q.MatchState(StateListen) || q.MatchState(StateClosed))
}

// MatchAddr reports whether a row with these endpoints can match q, looking
// only at Family (which a dual-stack row meets for IPv4 too) and the port
// conditions.
func (q Query) MatchAddr(c *Connection) bool {
	if !q.MatchFamily(c.Family()) && (q.Family != IPv4 || !c.DualStack) {
		return false
	}
	lp, rp := c.Local.Port(), c.Remote.Port()
	if q.LocalPort != 0 && lp != q.LocalPort {
		return false
	}
	if q.RemotePort != 0 && rp != q.RemotePort {
		return false
	}
	return q.Port == 0 || lp == q.Port || rp == q.Port
}

// MatchOwner reports whether c satisfies the PID and Process conditions.
func (q Query) MatchOwner(c *Connection) bool {
	if q.PID != 0 && c.PID != q.PID && !slices.Contains(c.OtherPIDs, q.PID) {
		return false
	}
	return q.Process == "" || strings.EqualFold(c.Module.Name, q.Process)
}

// Match reports whether c belongs in the answer to q. It is the single
// definition of Query semantics that every provider follows.
func (q Query) Match(c Connection) bool {
	return q.MatchState(c.State) && q.MatchAddr(&c) && q.MatchOwner(&c)
}

// Filter keeps, in place, the rows of conns that q matches and returns the
// shortened slice.
func (q Query) Filter(conns []Connection) []Connection {
	return slices.DeleteFunc(conns, func(c Connection) bool { return !q.Match(c) })
}
