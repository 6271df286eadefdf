// Package tcptable tells, identically on every operating system, which TCP
// endpoints exist on this host, in which state, owned by which process and
// module, and since when.
//
// # The model
//
// A [Connection] is one row of the host's TCP table. Its first fields mirror
// the Windows MIB_TCPROW_OWNER_MODULE structure that GetExtendedTcpTable
// returns (dwState, dwLocalAddr/Port, dwRemoteAddr/Port, dwOwningPid,
// liCreateTimestamp, OwningModuleInfo); [State] holds the MIB_TCP_STATE
// values 1..12 with their RFC 793 names. Every provider maps its OS into this
// model and keeps what the MIB has no room for in extra fields: the OS's own
// state code, why an owner is missing ([OwnerStatus]), every process that
// shares a socket, the socket inode and owning UID on Linux, the raw
// OwningModuleInfo on Windows. docs/model.md in the repository maps every
// field to its source on each OS.
//
// # Providers
//
// A [Provider] answers [Query] values with snapshots of the table:
//
//   - providers/native: New() picks the provider for the OS the binary was
//     built for;
//   - providers/windows: GetExtendedTcpTable(TCP_TABLE_OWNER_MODULE_*), with
//     ParseTable decoding the raw buffer on every OS;
//   - providers/linux: netlink sock_diag, owners from /proc, network
//     namespaces, a /proc/net fallback, kernel events and creation times
//     from BPF;
//   - providers/gopsutil: macOS, the BSDs and others through gopsutil;
//   - providers/mock: an editable in-memory table for your unit tests.
//
// [Query.Match] is the single definition of what a query selects: every
// provider returns exactly the rows it accepts, whatever it pushes down to the
// OS for speed ([Query.ReadFamily] says which of the OS's tables to read). The
// zero Query asks for the whole table with PIDs and modules; [Query.Owners]
// trades owner detail for speed, and [OwnerDetail.Apply] leaves out what a
// query did not ask for. A query [Query.Validate] rejects is an error
// wrapping [ErrInvalid] from every provider.
//
// # Identity and change
//
// [Connection.Key] identifies a connection across polls and state changes and
// tells SO_REUSEPORT listeners apart. [Diff] turns two snapshots into
// [Event] values (opened, closed, state changed, owner changed); [Watcher]
// and [Watch] follow any provider and stamp [Connection.FirstSeen], the
// only creation time an OS without one can offer. They trace where the
// provider is a [Tracer] and the OS permits it, so that a connection that
// lives a millisecond is reported opened and closed, and poll otherwise;
// a trace that loses events says so ([EventLost]) and the watcher
// resynchronises from a snapshot.
//
// # Proving a provider
//
// The conformance package is the suite every provider passes, the mock
// included; call conformance.Run from your own test to check yours.
//
// # Errors
//
// Errors wrap sentinels so that errors.Is works: [ErrNotSupported] (with the
// OS and operation named), [ErrClosed], [ErrInconsistent] (a partial table
// that changed while it was read), [ErrInvalid] and [ErrInvalidState] (bad
// input, quoted), and the context's error when a call is cancelled.
package tcptable
