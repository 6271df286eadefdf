package conformance_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/conformance"
	"github.com/tcptable/tcptable/providers/mock"
)

// wrapper is a provider around the mock whose Table does something else
// (a defect, or something odd but legal). Close is the mock's unless
// closeFn replaces it, and so are Trace and TraceReady unless trace
// replaces them.
type wrapper struct {
	*mock.Provider
	table   func(ctx context.Context, q tcptable.Query) ([]tcptable.Connection, error)
	closeFn func() error
	trace   func(ctx context.Context, q tcptable.Query, ready func(string), fn func(tcptable.Event) error) error
}

func (w *wrapper) TraceReady(ctx context.Context, q tcptable.Query, ready func(string), fn func(tcptable.Event) error) error {
	if w.trace != nil {
		return w.trace(ctx, q, ready, fn)
	}
	return w.Provider.TraceReady(ctx, q, ready, fn)
}

func (w *wrapper) Trace(ctx context.Context, q tcptable.Query, fn func(tcptable.Event) error) error {
	return w.TraceReady(ctx, q, nil, fn)
}

func (w *wrapper) Table(ctx context.Context, q tcptable.Query) ([]tcptable.Connection, error) {
	return w.table(ctx, q)
}

func (w *wrapper) Close() error {
	if w.closeFn != nil {
		return w.closeFn()
	}
	return w.Provider.Close()
}

// editRows returns a Table that edits every row of the mock's answer.
func editRows(p *mock.Provider, edit func(c *tcptable.Connection)) *wrapper {
	return &wrapper{Provider: p, table: func(ctx context.Context, q tcptable.Query) ([]tcptable.Connection, error) {
		rows, err := p.Table(ctx, q)
		for i := range rows {
			edit(&rows[i])
		}
		return rows, err
	}}
}

// editStats returns a Table that edits the Stats of every row that has
// them.
func editStats(p *mock.Provider, edit func(st *tcptable.Stats)) *wrapper {
	return editRows(p, func(c *tcptable.Connection) {
		if c.Stats != nil {
			edit(c.Stats)
		}
	})
}

// editAnswer returns a Table that edits the mock's whole answer.
func editAnswer(p *mock.Provider, edit func(rows []tcptable.Connection) []tcptable.Connection) *wrapper {
	return &wrapper{Provider: p, table: func(ctx context.Context, q tcptable.Query) ([]tcptable.Connection, error) {
		rows, err := p.Table(ctx, q)
		return edit(rows), err
	}}
}

// dropRows returns a Table that leaves out the rows drop selects.
func dropRows(p *mock.Provider, drop func(c tcptable.Connection) bool) *wrapper {
	return editAnswer(p, func(rows []tcptable.Connection) []tcptable.Connection { return slices.DeleteFunc(rows, drop) })
}

// isTimeWait selects TIME-WAIT rows.
func isTimeWait(c tcptable.Connection) bool { return c.State == tcptable.StateTimeWait }

// editQuery returns a Table that changes the query before the mock sees it.
func editQuery(p *mock.Provider, edit func(q *tcptable.Query)) *wrapper {
	return &wrapper{Provider: p, table: func(ctx context.Context, q tcptable.Query) ([]tcptable.Connection, error) {
		edit(&q)
		return p.Table(ctx, q)
	}}
}

// zeroPIDs returns a provider that consistently knows no owner for the
// rows pick selects: it edits the mock's own rows before every call, so
// that filters on PIDs agree with what it reports.
func zeroPIDs(p *mock.Provider, pick func(c *tcptable.Connection) bool) *wrapper {
	return &wrapper{Provider: p, table: func(ctx context.Context, q tcptable.Query) ([]tcptable.Connection, error) {
		for _, c := range p.Rows() {
			if c.PID != 0 && pick(&c) {
				p.Update(c.Key(), func(c *tcptable.Connection) {
					c.PID, c.OtherPIDs, c.OwnerStatus = 0, nil, tcptable.OwnerNotSupported
					c.Module, c.ModuleStatus, c.ModuleSource = tcptable.Module{}, tcptable.OwnerNotSupported, tcptable.SourceNone
				})
			}
		}
		return p.Table(ctx, q)
	}}
}

// rewriting returns a provider that consistently reports rows as fix
// leaves them: before every call it applies fix to the mock's own rows for
// which needs holds, so that queries agree with what it reports.
func rewriting(p *mock.Provider, needs func(c *tcptable.Connection) bool, fix func(c *tcptable.Connection)) *wrapper {
	return &wrapper{Provider: p, table: func(ctx context.Context, q tcptable.Query) ([]tcptable.Connection, error) {
		for _, c := range p.Rows() {
			if needs(&c) {
				p.Update(c.Key(), fix)
			}
		}
		return p.Table(ctx, q)
	}}
}

// zeroDualStack returns a provider that consistently reports no DualStack.
func zeroDualStack(p *mock.Provider) *wrapper {
	return rewriting(p, func(c *tcptable.Connection) bool { return c.DualStack },
		func(c *tcptable.Connection) { c.DualStack = false })
}

// cutNames returns a provider that consistently reports process names cut
// to 15 bytes, as Linux keeps them.
func cutNames(p *mock.Provider) *wrapper {
	return rewriting(p, func(c *tcptable.Connection) bool { return len(c.Module.Name) > 15 },
		func(c *tcptable.Connection) { c.Module.Name = c.Module.Name[:15] })
}

// swapBytes swaps the two bytes of ap's port.
func swapBytes(ap netip.AddrPort) netip.AddrPort {
	port := ap.Port()
	return netip.AddrPortFrom(ap.Addr(), port<<8|port>>8)
}

// defect is a provider that is wrong in one way, and where the suite must
// say so.
type defect struct {
	wrap    func(p *mock.Provider) tcptable.Provider
	env     func(p *mock.Provider) conformance.Env // nil: the mock itself
	opts    []conformance.Option
	subtest string // the subtest that must fail; "" if the run must pass
	crash   bool   // the child must die (the watchdog's panic) rather than fail
	// required runs the child with testenv.RequireEnv set, as CI does;
	// every other child runs without it, whatever this process has.
	required bool
	message  string // what its failure must say
	passes   string // a subtest that must still pass, if any
	logs     string // what else the output must say, if anything
}

// noIPv6 is an Env without IPv6, as OSEnv is on a host without ::1.
type noIPv6 struct{ *mock.Provider }

// errNoIPv6 is noIPv6's reason.
var errNoIPv6 = fmt.Errorf("test: no ::1 here: %w", tcptable.ErrNotSupported)

func (e noIPv6) Listen(network string) (conformance.Listener, error) {
	if network == "tcp6" {
		return nil, errNoIPv6
	}
	return e.Provider.Listen(network)
}

func (e noIPv6) Dial(network string) (conformance.Pair, error) {
	if network == "tcp6" {
		return nil, errNoIPv6
	}
	return e.Provider.Dial(network)
}

// hangingEnv is an Env whose Listen never returns.
type hangingEnv struct{ *mock.Provider }

func (hangingEnv) Listen(string) (conformance.Listener, error) {
	time.Sleep(time.Hour)
	return nil, errors.New("unreachable")
}

// defects are the broken providers the suite must fail, one Env that
// hangs (which the watchdog must stop), and one Env without IPv6 that the
// suite must skip around with its reason.
var defects = map[string]defect{
	"env-hangs": {
		wrap:  func(p *mock.Provider) tcptable.Provider { return &wrapper{Provider: p, table: p.Table} },
		env:   func(p *mock.Provider) conformance.Env { return hangingEnv{p} },
		opts:  []conformance.Option{conformance.WithTimeout(50 * time.Millisecond)},
		crash: true, message: "conformance: watchdog: subtest TestDefectChild/Listener/tcp4 still running after 500ms",
	},
	"env-without-ipv6": {
		wrap:    func(p *mock.Provider) tcptable.Provider { return &wrapper{Provider: p, table: p.Table} },
		env:     func(p *mock.Provider) conformance.Env { return noIPv6{p} },
		message: "Env cannot Listen(tcp6): test: no ::1 here", passes: "Listener/tcp4",
		logs: "--- SKIP: TestDefectChild/HalfClose/tcp6",
	},
	"env-without-ipv6-required": {
		// Where nothing may be missing (CI), what the Env cannot offer
		// fails, in the endpoint checks and in the fixture's.
		wrap:     func(p *mock.Provider) tcptable.Provider { return &wrapper{Provider: p, table: p.Table} },
		env:      func(p *mock.Provider) conformance.Env { return noIPv6{p} },
		required: true,
		subtest:  "Listener/tcp6", passes: "Listener/tcp4",
		message: "Env cannot Listen(tcp6): test: no ::1 here: not supported (TCPTABLE_REQUIRE_PRIVILEGED is set: a missing requirement is a failure)",
		logs:    "--- FAIL: TestDefectChild/Filters ",
	},
	"drop-listeners": {
		wrap: func(p *mock.Provider) tcptable.Provider {
			return dropRows(p, func(c tcptable.Connection) bool { return c.State == tcptable.StateListen })
		},
		subtest: "Listener/tcp4", message: "no row",
	},
	"swap-ends": {
		// Only connected rows: an ESTABLISHED pair looks right swapped, so
		// only the half-closed states can catch it.
		wrap: func(p *mock.Provider) tcptable.Provider {
			return editRows(p, func(c *tcptable.Connection) {
				if c.Remote.Port() != 0 {
					c.Local, c.Remote = c.Remote, c.Local
				}
			})
		},
		subtest: "HalfClose/tcp4", message: "want FIN-WAIT-2", passes: "Pair/tcp4",
	},
	"byteswap-ports": {
		wrap: func(p *mock.Provider) tcptable.Provider {
			return editRows(p, func(c *tcptable.Connection) { c.Local, c.Remote = swapBytes(c.Local), swapBytes(c.Remote) })
		},
		subtest: "Listener/tcp4", message: "no row",
	},
	"shift-states": {
		wrap: func(p *mock.Provider) tcptable.Provider {
			return editRows(p, func(c *tcptable.Connection) { c.State = c.State%tcptable.StateDeleteTCB + 1 })
		},
		subtest: "Listener/tcp4", message: "want LISTEN",
	},
	"zero-pids": {
		wrap: func(p *mock.Provider) tcptable.Provider {
			return editRows(p, func(c *tcptable.Connection) {
				c.PID, c.OtherPIDs, c.OwnerStatus = 0, nil, tcptable.OwnerNotSupported
			})
		},
		subtest: "Listener/tcp4", message: "want this process",
	},
	"drop-ipv6": {
		wrap: func(p *mock.Provider) tcptable.Provider {
			return dropRows(p, func(c tcptable.Connection) bool { return c.Family() == tcptable.IPv6 })
		},
		subtest: "Listener/tcp6", message: "no row", passes: "Listener/tcp4",
	},
	"duplicate-rows": {
		wrap: func(p *mock.Provider) tcptable.Provider {
			return editAnswer(p, func(rows []tcptable.Connection) []tcptable.Connection { return append(rows, rows...) })
		},
		subtest: "Listener/tcp4", message: "duplicate Key",
	},
	"ignore-class": {
		wrap: func(p *mock.Provider) tcptable.Provider {
			return editQuery(p, func(q *tcptable.Query) { q.Class = tcptable.ClassAll })
		},
		subtest: "Filters", message: "does not match the query {Class=listeners}",
	},
	"ignore-family": {
		wrap: func(p *mock.Provider) tcptable.Provider {
			return editQuery(p, func(q *tcptable.Query) { q.Family = tcptable.AnyFamily })
		},
		subtest: "Filters", message: "does not match the query {Family=ipv4}",
	},
	"ignore-invalid-query": {
		// Reads unknown values as "all" or "none" instead of refusing them.
		wrap: func(p *mock.Provider) tcptable.Provider {
			return editQuery(p, func(q *tcptable.Query) {
				if q.Validate() != nil {
					*q = tcptable.Query{Owners: tcptable.OwnerNone}
				}
			})
		},
		subtest: "InvalidQuery", message: "error <nil>, want an error wrapping tcptable.ErrInvalid", passes: "Owners",
	},
	"dual-stack-unreported": {
		wrap: func(p *mock.Provider) tcptable.Provider {
			return editRows(p, func(c *tcptable.Connection) { c.DualStack = false })
		},
		subtest: "DualStack", message: "has IPV6_V6ONLY off: want DualStack true (declare no-dual-stack",
		passes: "Listener/tcp6",
	},
	"dual-stack-unreported-with-gap": {
		// NoDualStack excuses a missing DualStack; IPv4 queries then leave
		// the row out, as Match says, and the output says so.
		wrap: func(p *mock.Provider) tcptable.Provider {
			return zeroDualStack(p)
		},
		opts:    []conformance.Option{conformance.DeclareGap(conformance.NoDualStack, "test: the OS does not say")},
		message: "--- PASS: TestDefectChild/DualStack ", logs: "DualStack not reported (gap no-dual-stack)",
	},
	"dual-stack-family-pushdown": {
		// Reports DualStack but reads only the IPv4 table for IPv4 queries.
		wrap: func(p *mock.Provider) tcptable.Provider {
			return &wrapper{Provider: p, table: func(ctx context.Context, q tcptable.Query) ([]tcptable.Connection, error) {
				rows, err := p.Table(ctx, q)
				if q.Family == tcptable.IPv4 {
					rows = slices.DeleteFunc(rows, func(c tcptable.Connection) bool { return c.Family() != tcptable.IPv4 })
				}
				return rows, err
			}}
		},
		subtest: "DualStack", message: "left out {LISTEN [::]:", passes: "Filters",
	},
	"dual-stack-everywhere": {
		wrap: func(p *mock.Provider) tcptable.Provider {
			return editRows(p, func(c *tcptable.Connection) { c.DualStack = c.Family() == tcptable.IPv6 })
		},
		subtest: "Listener/tcp6", message: "DualStack is set on a row that is not an IPv6 socket bound to ::",
		passes: "Listener/tcp4",
	},
	"dual-stack-ignores-v6only": {
		// Calls every socket on :: dual stack, IPV6_V6ONLY or not.
		wrap: func(p *mock.Provider) tcptable.Provider {
			return editRows(p, func(c *tcptable.Connection) {
				c.DualStack = c.Family() == tcptable.IPv6 && c.Local.Addr().IsUnspecified()
			})
		},
		subtest: "DualStack", message: "has IPV6_V6ONLY on: want DualStack false", passes: "Listener/tcp6",
	},
	"ignore-context": {
		wrap: func(p *mock.Provider) tcptable.Provider {
			return &wrapper{Provider: p, table: func(_ context.Context, q tcptable.Query) ([]tcptable.Connection, error) {
				return p.Table(context.Background(), q)
			}}
		},
		subtest: "Cancel", message: "want one wrapping context.Canceled",
	},
	"stale-snapshot": {
		wrap: func(p *mock.Provider) tcptable.Provider {
			var (
				once  sync.Once
				first []tcptable.Connection
			)
			return &wrapper{Provider: p, table: func(ctx context.Context, q tcptable.Query) ([]tcptable.Connection, error) {
				once.Do(func() { first, _ = p.Table(ctx, q) })
				return slices.Clone(first), nil
			}}
		},
		subtest: "Listener/tcp4", message: "still reported",
	},
	// Beyond the list: each of these breaks one more rule.
	"filter-drops-rows": {
		wrap: func(p *mock.Provider) tcptable.Provider {
			return &wrapper{Provider: p, table: func(ctx context.Context, q tcptable.Query) ([]tcptable.Connection, error) {
				rows, err := p.Table(ctx, q)
				if len(q.States) > 0 {
					rows = nil
				}
				return rows, err
			}}
		},
		subtest: "Filters", message: "Query.Filter on an unfiltered answer",
	},
	"owners-ignored": {
		wrap: func(p *mock.Provider) tcptable.Provider {
			return editQuery(p, func(q *tcptable.Query) { q.Owners = tcptable.OwnerModules })
		},
		subtest: "Owners", message: "asked for no owners",
	},
	"no-modules": {
		wrap: func(p *mock.Provider) tcptable.Provider {
			return editRows(p, func(c *tcptable.Connection) { c.Module = tcptable.Module{} })
		},
		subtest: "Listener/tcp4", message: "no Module.Name",
	},
	"time-wait-owned": {
		wrap: func(p *mock.Provider) tcptable.Provider {
			return editRows(p, func(c *tcptable.Connection) {
				if c.State == tcptable.StateTimeWait {
					c.PID, c.OwnerStatus = 1, tcptable.OwnerOK
				}
			})
		},
		subtest: "TimeWait/tcp4", message: "want PID 0 and OwnerStatus kernel",
	},
	"close-noop": {
		wrap: func(p *mock.Provider) tcptable.Provider {
			return &wrapper{Provider: p, table: p.Table, closeFn: func() error { return nil }}
		},
		subtest: "Close", message: "want one wrapping tcptable.ErrClosed",
	},
	"panics": {
		wrap: func(p *mock.Provider) tcptable.Provider {
			return &wrapper{Provider: p, table: func(context.Context, tcptable.Query) ([]tcptable.Connection, error) {
				panic("defect: index out of range")
			}}
		},
		subtest: "Listener/tcp4", message: "panicked: defect: index out of range",
	},
	"always-inconsistent": {
		// One ErrInconsistent is bad luck (see TestInconsistentOnce); an
		// answer that never settles is a failure.
		wrap: func(p *mock.Provider) tcptable.Provider {
			return &wrapper{Provider: p, table: func(ctx context.Context, q tcptable.Query) ([]tcptable.Connection, error) {
				rows, _ := p.Table(ctx, q)
				return rows, tcptable.ErrInconsistent
			}}
		},
		subtest: "Listener/tcp4", message: "table changed while it was read",
	},
	"drop-time-wait-with-gap": {
		// NoTimeWait excuses a missing TIME-WAIT row, not a wrong one.
		wrap: func(p *mock.Provider) tcptable.Provider {
			return dropRows(p, isTimeWait)
		},
		opts:    []conformance.Option{conformance.DeclareGap(conformance.NoTimeWait, "test: lsof lists no TIME-WAIT")},
		message: "TIME-WAIT row 127.0.0.1:", logs: "not reported (gap no-time-wait)",
	},
	"drop-other-pids": {
		wrap: func(p *mock.Provider) tcptable.Provider {
			return editRows(p, func(c *tcptable.Connection) { c.OtherPIDs = nil })
		},
		subtest: "SharedListener", message: "(declare no-other-pids if the platform names one owner per socket)",
		passes: "Listener/tcp4",
	},
	"drop-other-pids-with-gap": {
		// NoOtherPIDs excuses a missing holder; the output says so.
		wrap: func(p *mock.Provider) tcptable.Provider {
			return editRows(p, func(c *tcptable.Connection) { c.OtherPIDs = nil })
		},
		opts:    []conformance.Option{conformance.DeclareGap(conformance.NoOtherPIDs, "test: one owner per socket")},
		message: "--- PASS: TestDefectChild/SharedListener ", logs: "not among its owners (gap no-other-pids)",
	},
	"stale-other-pids": {
		// Keeps reporting a holder after it exited.
		wrap: func(p *mock.Provider) tcptable.Provider {
			var mu sync.Mutex
			seen := map[tcptable.Key][]uint32{}
			return editRows(p, func(c *tcptable.Connection) {
				mu.Lock()
				defer mu.Unlock()
				if len(c.OtherPIDs) > 0 {
					seen[c.Key()] = c.OtherPIDs
				} else if c.PID != 0 {
					c.OtherPIDs = seen[c.Key()]
				}
			})
		},
		subtest: "SharedListener", message: "which does not hold it",
	},
	"drop-time-wait": {
		wrap: func(p *mock.Provider) tcptable.Provider {
			return dropRows(p, isTimeWait)
		},
		subtest: "TimeWait/tcp4", message: "in TIME-WAIT", passes: "HalfClose/tcp4",
	},
	"zero-pids-despite-gap": {
		// A gap relaxes exactly its check: listeners may have PID 0, the
		// pair's ends may not.
		wrap: func(p *mock.Provider) tcptable.Provider {
			return zeroPIDs(p, func(*tcptable.Connection) bool { return true })
		},
		opts:    []conformance.Option{conformance.DeclareGap(conformance.NoListenerPID, "test: listeners have no PID")},
		subtest: "Pair/tcp4", message: "want this process", passes: "Listener/tcp4",
		logs: "declared gap no-listener-pid: test: listeners have no PID",
	},
	"truncate-long-names": {
		// Names cut as the kernel keeps them (15 bytes).
		wrap:    func(p *mock.Provider) tcptable.Provider { return cutNames(p) },
		subtest: "LongName", message: "the whole name of its process (declare no-long-name", passes: "Listener/tcp4",
	},
	"truncate-long-names-with-gap": {
		wrap:    func(p *mock.Provider) tcptable.Provider { return cutNames(p) },
		opts:    []conformance.Option{conformance.DeclareGap(conformance.NoLongName, "test: names are cut")},
		message: "--- PASS: TestDefectChild/LongName ", logs: `Module.Name "tcptable-confor" (gaps`,
	},
	"process-query-cut": {
		// Query.Process compared with the start of the name only.
		wrap: func(p *mock.Provider) tcptable.Provider {
			return editQuery(p, func(q *tcptable.Query) {
				if len(q.Process) > 15 {
					q.Process = q.Process[:15]
				}
			})
		},
		subtest: "LongName", message: "want the one listener",
	},
	"stats-too-few-bytes": {
		wrap: func(p *mock.Provider) tcptable.Provider {
			return editStats(p, func(st *tcptable.Stats) { st.BytesSent /= 2; st.BytesReceived /= 2 })
		},
		subtest: "Stats/tcp4", message: "BytesSent grew by 150000 (from 0 to 150000), want at least 300000 bytes after sending 300000",
		passes: "Pair/tcp4",
	},
	"stats-too-few-segments": {
		wrap: func(p *mock.Provider) tcptable.Provider {
			return editStats(p, func(st *tcptable.Stats) { st.SegmentsSent, st.SegmentsReceived = 0, 0 })
		},
		subtest: "Stats/tcp4", message: "SegmentsSent grew by 0",
	},
	"stats-swapped": {
		wrap: func(p *mock.Provider) tcptable.Provider {
			return editStats(p, func(st *tcptable.Stats) {
				st.BytesSent, st.BytesReceived = st.BytesReceived, st.BytesSent
				st.SegmentsSent, st.SegmentsReceived = st.SegmentsReceived, st.SegmentsSent
			})
		},
		subtest: "Stats/tcp4", message: "BytesSent grew by 70000 (from 0 to 70000), want at least 300000",
	},
	"stats-when-not-requested": {
		// Reads the counters whatever the query says.
		wrap: func(p *mock.Provider) tcptable.Provider {
			return editQuery(p, func(q *tcptable.Query) { q.Stats = true })
		},
		subtest: "Listener/tcp4", message: "the query asked for no statistics (Query.Stats false) but the row has Stats",
	},
	"stats-decrease": {
		// Every other answer with statistics counts a terabyte too many.
		wrap: func(p *mock.Provider) tcptable.Provider {
			var mu sync.Mutex
			calls := 0
			return &wrapper{Provider: p, table: func(ctx context.Context, q tcptable.Query) ([]tcptable.Connection, error) {
				rows, err := p.Table(ctx, q)
				mu.Lock()
				calls++
				odd := calls%2 == 1
				mu.Unlock()
				for i := range rows {
					if st := rows[i].Stats; st != nil && odd {
						st.BytesSent += 1 << 40
					}
				}
				return rows, err
			}}
		},
		subtest: "Stats/tcp4", message: "counter BytesSent of row 127.0.0.1:",
		logs: "decreased between two polls",
	},
	"stats-missing": {
		wrap: func(p *mock.Provider) tcptable.Provider {
			return editRows(p, func(c *tcptable.Connection) {
				if c.Stats != nil {
					c.Stats, c.StatsStatus = nil, tcptable.StatsNotSupported
				}
			})
		},
		subtest: "Stats/tcp4", message: "the pair's rows have no Stats", logs: "(declare no-stats if the platform has none)",
	},
	"stats-missing-with-gap": {
		// NoStats excuses the missing counters; the output says so.
		wrap: func(p *mock.Provider) tcptable.Provider {
			return editRows(p, func(c *tcptable.Connection) {
				if c.Stats != nil {
					c.Stats, c.StatsStatus = nil, tcptable.StatsNotSupported
				}
			})
		},
		opts:    []conformance.Option{conformance.DeclareGap(conformance.NoStats, "test: no counters here")},
		message: "--- PASS: TestDefectChild/Stats/tcp4 ", logs: "no statistics (gap no-stats)",
	},
	"stats-despite-gap": {
		// A provider that declares NoStats must not fill Stats.
		wrap:    func(p *mock.Provider) tcptable.Provider { return &wrapper{Provider: p, table: p.Table} },
		opts:    []conformance.Option{conformance.DeclareGap(conformance.NoStats, "test: no counters here")},
		subtest: "Stats/tcp4", message: "has Stats although the provider declared no-stats",
	},
	"hangs": {
		wrap: func(p *mock.Provider) tcptable.Provider {
			return &wrapper{Provider: p, table: func(context.Context, tcptable.Query) ([]tcptable.Connection, error) {
				time.Sleep(time.Hour)
				return nil, nil
			}}
		},
		subtest: "Listener/tcp4", message: "did not return within",
	},
}
