package metrics

import (
	"cmp"
	"net/netip"
	"slices"
	"strconv"

	"github.com/tcptable/tcptable"
)

// tally is what one table read says, reduced to the bounded series the
// collector exports. It is built once per read and then only read, by every
// scrape that shares that read.
type tally struct {
	rows   int
	hidden int // rows whose owner is hidden (permission denied)
	// byState counts rows by state index and family index.
	byState [numStates][2]uint64
	// procs are the per-process counts by state: the top N named
	// processes by rows (most first, then by name), then "other" and the
	// reserved buckets that have rows.
	procs []procCount
	// listeners are the distinct listening endpoints, at most the cap,
	// ordered by port, address and process; omitted counts the rest.
	listeners []listenerInfo
	omitted   int
}

// procCount is one process label value's row counts by state index.
type procCount struct {
	process string
	states  [numStates]uint64
	total   uint64
}

// listenerInfo is one tcptable_listener_info series.
type listenerInfo struct {
	address, port, process string
}

// listenerRow is a listening row before labelling.
type listenerRow struct {
	addr  netip.Addr
	port  uint16
	owner owner
}

// newTally reduces rows; top is the number of named processes kept and
// maxListeners the cap on listener series.
func newTally(rows []tcptable.Connection, top, maxListeners int) *tally {
	t := &tally{rows: len(rows)}
	byOwner := make(map[owner]*procCount)
	var lns []listenerRow
	for i := range rows {
		c := &rows[i]
		st := stateIndex(c.State)
		t.byState[st][familyIndex(c)]++
		if c.OwnerStatus == tcptable.OwnerPermissionDenied || c.ModuleStatus == tcptable.OwnerPermissionDenied {
			t.hidden++
		}
		o := ownerOf(c)
		pc := byOwner[o]
		if pc == nil {
			pc = &procCount{}
			byOwner[o] = pc
		}
		pc.states[st]++
		pc.total++
		if c.State == tcptable.StateListen {
			lns = append(lns, listenerRow{addr: c.Local.Addr(), port: c.Local.Port(), owner: o})
		}
	}
	t.procs = topProcesses(byOwner, top)
	t.listeners, t.omitted = boundListeners(lns, maxListeners)
	return t
}

// topProcesses labels the per-owner counts and keeps the top named
// processes by rows; the rest are summed into "other". Reserved buckets
// come after, in a fixed order. Names that label alike are merged, so no
// two entries share a label.
func topProcesses(byOwner map[owner]*procCount, top int) []procCount {
	named := make(map[string]*procCount, len(byOwner))
	reserved := map[string]*procCount{}
	for o, pc := range byOwner {
		m := named
		if o.reserved != "" {
			m = reserved
		}
		l := o.label()
		if prev := m[l]; prev != nil {
			prev.add(pc)
		} else {
			pc.process = l
			m[l] = pc
		}
	}
	list := make([]procCount, 0, len(named))
	for _, pc := range named {
		list = append(list, *pc)
	}
	slices.SortFunc(list, func(a, b procCount) int {
		if c := cmp.Compare(b.total, a.total); c != 0 {
			return c
		}
		return cmp.Compare(a.process, b.process)
	})
	if len(list) > top {
		other := procCount{process: processOther}
		for i := range list[top:] {
			other.add(&list[top+i])
		}
		list = append(list[:top], other)
	}
	for _, l := range []string{processKernel, processHidden, processUnknown} {
		if pc := reserved[l]; pc != nil {
			list = append(list, *pc)
		}
	}
	return list
}

// add adds o's counts to p.
func (p *procCount) add(o *procCount) {
	for i := range p.states {
		p.states[i] += o.states[i]
	}
	p.total += o.total
}

// boundListeners returns the distinct (address, port, process) of lns,
// ordered by port, address and process, at most max of them, and how many
// distinct ones were left out.
func boundListeners(lns []listenerRow, max int) ([]listenerInfo, int) {
	slices.SortFunc(lns, func(a, b listenerRow) int {
		if c := cmp.Compare(a.port, b.port); c != 0 {
			return c
		}
		if c := a.addr.Compare(b.addr); c != 0 {
			return c
		}
		if c := cmp.Compare(a.owner.reserved, b.owner.reserved); c != 0 {
			return c
		}
		return cmp.Compare(a.owner.name, b.owner.name)
	})
	lns = slices.Compact(lns)
	var out []listenerInfo
	seen := make(map[listenerInfo]bool, len(lns))
	omitted := 0
	for _, l := range lns {
		li := listenerInfo{address: labelValue(l.addr.String()), port: strconv.Itoa(int(l.port)), process: l.owner.label()}
		if seen[li] {
			continue // two raw names that label alike
		}
		seen[li] = true
		if len(out) == max {
			omitted++
			continue
		}
		out = append(out, li)
	}
	return out, omitted
}
