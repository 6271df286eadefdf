// Package mock is an in-memory tcptable.Provider for tests: the table is
// whatever the test puts in it, and every edit shows in the next answer.
//
// # Serving a table
//
// New takes the rows to serve; a test hands the provider to the code under
// test wherever that code takes a tcptable.Provider:
//
//	p := mock.New(tcptable.Connection{
//		State:  tcptable.StateListen,
//		Local:  netip.MustParseAddrPort("0.0.0.0:8080"),
//		PID:    4242,
//		Module: tcptable.Module{Name: "nginx"},
//	})
//	defer p.Close()
//
// Table answers like a real provider: exactly the rows Query.Match
// accepts, with owner detail stripped as Query.Detail says
// (OwnerDetail.Apply: PIDs and modules not asked for are left out, with
// OwnerNotRequested), and an error wrapping tcptable.ErrInvalid for a query
// Query.Validate rejects, as deep
// copies the caller may keep, in the order the rows were added. Rows added
// with a PID but no OwnerStatus get OwnerOK, a listener written without a
// Remote gets the unspecified address of its family, and so on (see Add),
// so that a hand-written row follows the same conventions as a real one.
//
// # Changing it while in use
//
// Add, Remove, Set, SetState and Update edit the table at any time, from
// any goroutine; Rows returns what is there now.
//
// # Traffic counters
//
// SetStats gives a row its Stats and AddTraffic advances them (bytes and
// the segments to carry them); Table returns them when Query.Stats asks,
// and nil Stats with StatsNotRequested otherwise, as a real provider does.
//
// # Faults and latency
//
// FailNext makes the next calls fail with given errors; SetLatency makes
// every call take a while, or until its context ends, so that timeouts and
// cancellation in the code under test can be exercised. Queries returns
// every Query received, for asserting what the code under test asked.
//
// # Traces
//
// *Provider is a tcptable.ReadyTracer: Trace reports every edit as a kernel
// reports changes, with exactly the events tcptable.Diff gives between the
// answers to the trace's query just before and just after the edit, so
// that a tcptable.Watcher or tcptable.Watch over the mock follows a trace
// (the source is named "mock"). Events reach the trace's function
// asynchronously, from the goroutine that called Trace; Flush waits until
// they have. FailTrace makes Trace fail at once (an error wrapping
// tcptable.ErrNotSupported makes a Watcher poll instead), EndTraces ends
// the running traces with an error, LoseEvents and SetTraceBuffer drop
// events and report them with tcptable.EventLost, and SetClock fixes the
// events' times:
//
//	p := mock.New()
//	w := tcptable.NewWatcher(p, tcptable.Query{})
//	defer w.Close()
//	_ = w.Start(ctx)  // the trace, then the baseline
//	pair, _ := p.Dial("tcp4")
//	pair.Close()      // opened and closed between two polls
//	p.Flush()
//	events, _ := w.Poll(ctx) // two opened, two closed
//
// A test that serves the mock through a wrapper overriding Table should
// override Trace and TraceReady too, or hide them, as a Watcher traces
// whenever the provider can.
//
// # Ending connections
//
// *Provider implements tcptable.Killer: Kill removes the row with the
// given row's Key (tcptable.ErrNotFound when there is none) and records
// the call (Kills). FaultKillNext makes the next Kill calls fail with
// given errors, or report success while ending nothing (KillFault.Keep:
// the behaviour of a provider that assumes its kills, which the
// conformance suite must catch). A row of a pair that Dial made ends as a
// reset ends a real connection: both ends' rows go, and the Pair (a
// conformance.EndingPair) says both ends saw the connection end.
//
// # Snapshots
//
// Save writes the table as JSON, the same objects `tcptable --json`
// prints (state, local, remote, pid, process, path, created, plus the
// lossless extras); Load and ReadJSON read it back, strictly: a row that
// breaks the model (a PID without owner_status "ok", a listener with a
// remote end, port 0, ...) is an error naming the row. A table captured on
// a real host replays in a unit test.
//
// # Simulated endpoints
//
// *Provider implements conformance.Env (and SharingEnv and DualStackEnv):
// Listen, ListenUnspecified and Dial add the rows a real OS would show for
// a listener (on loopback, or dual-stack or V6ONLY on [::]) or a connected
// pair owned by the calling process, and the Listener and Pair they return
// move those rows through FIN-WAIT-2/CLOSE-WAIT and TIME-WAIT as the real
// sockets would; a Pair is a conformance.TransferPair whose Transfer counts
// the bytes "written" in both rows' Stats, and a conformance.EndingPair
// whose AwaitEnd says when a read on one of its ends would return. Their
// ports start at 40000, have two different bytes and avoid every local port
// in the table; their rows carry made-up socket identities (Socket), as
// Linux rows carry inodes. That is how the mock passes the conformance
// suite:
//
//	conformance.Run(t, func(t *testing.T) (tcptable.Provider, conformance.Env) {
//		p := mock.New()
//		return p, p
//	})
//
// # Namespaces and containers
//
// Rows carry the network namespace and container a real Linux provider
// reports (Connection.NetNS, NetNSName, Container): set them on the rows
// given to Add, or simulate endpoints in one with In, whose Env's Listen
// and Dial add rows in the Scope it is given. Rows of different
// namespaces never share a Key, so the same addresses in two namespaces
// are two rows. Container, like Module, is left out of answers to queries
// that do not ask for modules.
//
// A Provider is safe for concurrent use.
package mock
