package linux

import (
	"time"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/providers/linux/internal/events"
)

// change is what a traced record means for its row.
type change uint8

const (
	changeOpened  change = iota + 1 // the row appeared (After only)
	changeClosed                    // the row is gone (Before only)
	changeUpdated                   // state or owner changed (Before and After)
)

// classify says what r means for its row. A socket is born when it leaves
// CLOSE (connect, listen) or when the kernel creates a child in a
// listener's accept queue (LISTEN -> SYN-RECV: the child starts as a copy
// of the listener); it ends when it goes back to CLOSE, unless a TIME-WAIT
// minisocket takes the connection over.
func classify(r *events.Record) change {
	switch {
	case r.Kind != events.KindState:
		return changeUpdated
	case r.New == tcpClose:
		return changeClosed
	case r.Old == tcpClose || (r.Old == tcpListen && r.New == tcpSynRecv):
		return changeOpened
	}
	return changeUpdated
}

// converter turns records into rows, as Table would report them.
type converter struct {
	clock events.Clock
	zone  zoner
	// netns and netnsName are the namespace every row carries, as Table's
	// rows do (Key tells namespaces apart).
	netns     uint64
	netnsName string
	// module returns the owner's executable path ("" if unknown).
	module func(o *events.Owner) string
	// seed holds the owners a snapshot found for sockets (by inode) that
	// predate the recorder, which it cannot attribute.
	seed map[uint64]owned
}

// owned is an owner found in a snapshot.
type owned struct {
	pid    uint32
	module tcptable.Module
}

// recordRow returns r's socket as a dump would show it in kernel state st,
// INET_DIAG_SKV6ONLY included: the kernel reports it for AF_INET6 sockets
// in LISTEN and CLOSE (connFromRow makes a row on :: with IPV6_V6ONLY off
// DualStack, as Table does).
func recordRow(r *events.Record, st uint8) diagRow {
	d := diagRow{Family: r.Family, State: st, SPort: r.SPort, DPort: r.DPort, Src: r.Src, Dst: r.Dst,
		IfIndex: r.IfIndex, UID: r.UID, Inode: r.Inode, Cookie: r.Cookie}
	switch {
	case d.Family == afInet:
		clear(d.Src[4:])
		clear(d.Dst[4:])
	case d.Family == afInet6 && (st == tcpListen || st == tcpClose):
		d.V6Only, d.HasV6Only = r.V6Only, true
	}
	return d
}

// rowInto writes to *c the row of r's socket in kernel state st with
// owner o. Traced rows read no tcp_info: their Stats are not requested
// until a query's reduce says otherwise.
func (cv *converter) rowInto(c *tcptable.Connection, r *events.Record, st uint8, o *events.Owner) {
	d := recordRow(r, st)
	*c, _ = cv.plain(&d)
	c.StatsStatus = tcptable.StatsNotRequested
	c.Created = cv.clock.Wall(r.Birth)
	cv.setOwner(c, o)
}

// plain converts a kernel row as Table does, without owners: the
// addresses and state, the socket, and the provider's namespace.
func (cv *converter) plain(d *diagRow) (tcptable.Connection, bool) {
	c, ok := connFromRow(d, cv.zone)
	c.NetNS, c.NetNSName = cv.netns, cv.netnsName
	return c, ok
}

// setOwner fills c's owner fields from o.
func (cv *converter) setOwner(c *tcptable.Connection, o *events.Owner) {
	switch o.Kind {
	case events.OwnerProcess:
		c.PID, c.OwnerStatus = o.PID, tcptable.OwnerOK
		c.Module = tcptable.Module{Name: o.Comm}
		if cv.module != nil {
			c.Module.Path = cv.module(o)
		}
		c.ModuleStatus, c.ModuleSource = tcptable.OwnerOK, tcptable.SourceProcfs
	case events.OwnerKernel:
		c.OwnerStatus, c.ModuleStatus = tcptable.OwnerKernel, tcptable.OwnerKernel
	default:
		if s, ok := cv.seed[c.Socket]; ok && c.Socket != 0 {
			c.PID, c.Module = s.pid, s.module
			c.OwnerStatus, c.ModuleStatus, c.ModuleSource = tcptable.OwnerOK, tcptable.OwnerOK, tcptable.SourceProcfs
			return
		}
		// Neither the recorder nor the first snapshot knows it: a socket
		// older than the trace that no process has acted on since, or
		// one the snapshot found no owner of.
		c.OwnerStatus, c.ModuleStatus = tcptable.OwnerUnknown, tcptable.OwnerUnknown
	}
}

// rowsInto writes to *before and *after the row before and after the
// change r reports.
func (cv *converter) rowsInto(before, after *tcptable.Connection, r *events.Record) {
	cv.rowInto(after, r, r.New, &r.Owner)
	if shapesRow(r.Old) || shapesRow(r.New) {
		cv.rowInto(before, r, r.Old, &r.Prev)
		return
	}
	// The same row in another state, with the previous owner.
	*before = *after
	before.State, _ = stateFromKernel(r.Old)
	before.OSState = uint32(r.Old)
	if r.Prev != r.Owner {
		before.PID, before.Module, before.ModuleSource = 0, tcptable.Module{}, tcptable.SourceNone
		cv.setOwner(before, &r.Prev)
	}
}

// shapesRow reports whether a row in kernel state st differs from the
// same socket's row in other states by more than its state (connFromRow:
// a listener's remote address, the UID of minisockets).
func shapesRow(st uint8) bool {
	return st == tcpListen || st == tcpTimeWait || st == tcpSynRecv || st == tcpNewSynRecv
}

// viewEvents appends the events a trace of q reports for one change of a
// row, as Diff would between two answers to q: a row that starts (stops)
// matching q is opened (closed) as far as q is concerned, and a change of
// a row q matches before and after is a state change, an owner change or
// both, in that order. Rows are reduced to the owner detail q asks for
// before they are matched; they carry no Stats (see reduce).
func viewEvents(dst []tcptable.Event, q tcptable.Query, ch change, before, after tcptable.Connection, t time.Time) []tcptable.Event {
	return viewEventsOf(dst, &q, ch, &before, &after, t)
}

// viewEventsOf is viewEvents of *q, *before and *after, which it does not
// change: rows are copied only when q asks for less than they carry.
func viewEventsOf(dst []tcptable.Event, q *tcptable.Query, ch change, before, after *tcptable.Connection, t time.Time) []tcptable.Event {
	if d := q.Detail(); !reduced(before, d, q.Stats) || !reduced(after, d, q.Stats) {
		pair := [2]tcptable.Connection{*before, *after}
		reduce(pair[:], d, q.Stats)
		before, after = &pair[0], &pair[1]
	}
	mb := ch != changeOpened && q.Match(*before)
	ma := ch != changeClosed && q.Match(*after)
	switch {
	case mb && ma:
		k := after.Key()
		if before.State != after.State {
			dst = append(dst, tcptable.Event{Kind: tcptable.EventStateChanged, Key: k, Before: *before, After: *after, Time: t})
		}
		if before.PID != after.PID || before.Module != after.Module {
			dst = append(dst, tcptable.Event{Kind: tcptable.EventOwnerChanged, Key: k, Before: *before, After: *after, Time: t})
		}
	case ma:
		dst = append(dst, tcptable.Event{Kind: tcptable.EventOpened, Key: after.Key(), After: *after, Time: t})
	case mb:
		dst = append(dst, tcptable.Event{Kind: tcptable.EventClosed, Key: before.Key(), Before: *before, Time: t})
	}
	return dst
}

// reduce clears the owner detail d does not ask for, as Table does
// (OwnerDetail.Apply), and says why the rows have no Stats: not
// requested, or (stats, Query.Stats) not supported, since a trace reads
// no tcp_info.
func reduce(rows []tcptable.Connection, d tcptable.OwnerDetail, stats bool) {
	for i := range rows {
		rows[i].Stats, rows[i].StatsStatus = nil, reducedStats(stats)
	}
	d.Apply(rows)
}

// reducedStats is the StatsStatus reduce gives a row.
func reducedStats(stats bool) tcptable.StatsStatus {
	if stats {
		return tcptable.StatsNotSupported
	}
	return tcptable.StatsNotRequested
}

// reduced reports whether reduce(d, stats) would leave *c as it is.
func reduced(c *tcptable.Connection, d tcptable.OwnerDetail, stats bool) bool {
	return d.WantPIDs() && d.WantModules() && c.Stats == nil && c.StatsStatus == reducedStats(stats)
}
