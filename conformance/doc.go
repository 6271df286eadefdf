// Package conformance is the test suite every tcptable.Provider must pass:
// the mock, the Linux and Windows providers, the gopsutil fallback and any
// third-party provider.
//
// # Running it
//
// Call Run from an ordinary test, with a MakeProvider that returns a fresh
// provider and the Env whose endpoints it must report:
//
//	func TestConformance(t *testing.T) {
//		conformance.Run(t, func(t *testing.T) (tcptable.Provider, conformance.Env) {
//			p, err := myprovider.New()
//			if err != nil {
//				t.Fatal(err)
//			}
//			return p, conformance.OSEnv()
//		})
//	}
//
// OSEnv opens real sockets on the loopback addresses (127.0.0.1 and ::1);
// the provider must then find them in the host's table. The mock provider
// is its own Env: it simulates the same rows in memory, which is how the
// suite proves itself and the mock at once:
//
//	conformance.Run(t, func(t *testing.T) (tcptable.Provider, conformance.Env) {
//		p := mock.New()
//		return p, p
//	})
//
// Run the suite under the race detector (go test -race): it calls Table
// from several goroutines at once, and a provider that is not safe for
// concurrent use fails there.
//
// # What it checks
//
// Like golang.org/x/net/nettest.TestConn, Run runs one subtest per check,
// each with a fresh provider (closed when the subtest ends) and a watchdog
// that turns a hang into a failure that names the subtest. For the
// endpoints the Env creates it checks, on IPv4 and on IPv6:
//
//   - Listener: a listener appears in state LISTEN with its exact address
//     and port, the calling process' PID (os.Getpid()), OwnerStatus OwnerOK,
//     a module, and an unspecified remote address of its family with port
//     0; it disappears after Close.
//   - Pair: both ends of a dialed pair appear ESTABLISHED, with local and
//     remote exactly mirrored, both owned by the caller.
//   - HalfClose: after the client shuts down writing, its row shows
//     FIN-WAIT-2 and the server's CLOSE-WAIT. (An ESTABLISHED pair looks the
//     same with local and remote swapped; these asymmetric states do not.)
//   - TimeWait: after an active close the client's row shows TIME-WAIT with
//     PID 0 and OwnerStatus OwnerKernel, and the server's row is gone.
//   - Stats (only when the Env's pairs are TransferPairs): after a pair
//     moves 300,000 bytes one way and 70,000 the other, and then the
//     reverse, both ends report at least those bytes (BytesSent,
//     BytesReceived) and the segments needed to carry them, in the right
//     direction, and no counter of theirs decreases from one poll to the
//     next. With NoStats declared, the ends must have no Stats instead.
//   - SharedListener (tcp4, only with a SharingEnv): a listener that another
//     process holds too lists exactly both processes among its Owners, and
//     only the caller once the other process has exited.
//   - DualStack (only with a DualStackEnv): of two listeners on [::], the
//     one with IPV6_V6ONLY off says Connection.DualStack and the other does
//     not, and IPv4 queries return the first (they match it: it accepts
//     IPv4) and not the second.
//   - LongName (tcp4, only with a NamingEnv): a listener held by another
//     process whose name is longer than the 15 bytes Linux keeps of a
//     process name is reported with that process' PID and its whole name
//     as Module.Name, and a Query.Process of the whole name (in other
//     case) finds it.
//   - Trace (only for a tcptable.Tracer): two traces run, of the whole
//     table and of the network's listeners; a listener opened and closed,
//     and a pair dialed and closed at once (a life of milliseconds, shorter
//     than any poll), are reported: the listener opened and closed in both,
//     every end of the pair opened and closed (the dialing end may stay in
//     TIME-WAIT) in the first, with this process' PID where connect, listen
//     and accept run, under the Key Table gives, at times within the
//     check's run, per connection in an order Diff could report (after an
//     EventLost anything may have been missed), never for a row the query
//     excludes, from one goroutine at a time; Trace returns an error
//     wrapping context.Canceled when its context ends. A Tracer that is no
//     tcptable.ReadyTracer is first waited for until it reports a listener.
//   - Kill (only for a tcptable.Killer): one end of a pair, killed by the
//     row Table gave, is gone from the very next Table (a kill is
//     verified, never assumed) while another pair and a listener are
//     untouched; with an EndingPair both ends see the connection end;
//     with a cancelled context Kill ends nothing; the same row again, and
//     a made-up connection on the listener's port, are ErrNotFound;
//     ending the listener is tried too (ErrNotSupported is logged).
//
// and, for the table as a whole:
//
//   - every row of every answer satisfies the query's Match, has a valid
//     State (or State 0 with the OS's own code in OSState, for a state the
//     model does not define), follows the owner conventions (a PID only
//     with OwnerOK, no PID without a reason) and the statistics
//     conventions (nil Stats with StatsNotRequested unless Query.Stats
//     asks; when it asks, Stats exactly with StatsOK or StatsPartial, and a
//     reason without them), and no two rows share a Key;
//   - Filters: an answer to a filtered Query (Class, Family, States, ports,
//     PID, Process) holds exactly the Env's rows that Query.Filter keeps
//     from an unfiltered answer;
//   - Owners: OwnerPIDs and OwnerNone queries leave out what was not asked
//     for and say so with OwnerNotRequested;
//   - InvalidQuery: a Query that Query.Validate rejects (Class(7),
//     Family(9), Owners(9), a state outside 1..12) is an error wrapping
//     tcptable.ErrInvalid, not an answer;
//   - Cancel: a cancelled or expired context gives an error wrapping
//     context.Canceled or context.DeadlineExceeded;
//   - Concurrent: Table is safe to call from many goroutines while
//     endpoints come and go;
//   - Close: Close is idempotent, and Table afterwards returns an error
//     wrapping tcptable.ErrClosed.
//
// Rows the Env did not create (other processes, other hosts, TIME-WAIT
// leftovers of earlier subtests) are tolerated and only checked against the
// table-wide rules; the suite identifies its own rows by their exact address
// four-tuple. Row order is free. The OS may take a moment to show or drop an
// endpoint, so the endpoint checks poll until WithTimeout's deadline (10
// seconds unless TCPTABLE_CONFORMANCE_TIMEOUT says otherwise). An
// answer that fails with tcptable.ErrInconsistent is asked again, up to
// three times.
//
// # Gaps
//
// A provider that cannot do something on its platform says so with
// DeclareGap and a reason; Run logs every declared gap at its start and
// relaxes exactly the checks the gap names. A provider whose Trace is not
// supported here (an error wrapping tcptable.ErrNotSupported) declares
// NoTrace, or the Trace check fails; one that is no tcptable.Tracer at all
// needs no declaration: the check skips and says so. A Tracer that sees
// ends but learns of openings only by polling declares NoTracedOpenings:
// the pair's ends must still be reported opened and ended, without owners
// (the dialing end may first appear in TIME-WAIT). A Kill that returns
// an error wrapping tcptable.ErrNotSupported declares NoKill by itself: the
// Kill check skips and logs it. An Env that cannot offer
// something (OSEnv on a host without ::1) returns an error wrapping
// tcptable.ErrNotSupported, and the IPv6 subtests are skipped with that
// error as the reason — unless the environment variable
// TCPTABLE_REQUIRE_PRIVILEGED is set (to anything but "", "0" or "false"):
// then nothing may be missing, and each such skip is a failure, so that a
// CI run cannot pass by skipping. An Env that lacks an optional capability
// (SharingEnv, DualStackEnv, pairs that are TransferPairs) skips its check
// either way.
package conformance
