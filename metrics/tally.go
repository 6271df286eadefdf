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
	procs []groupCount
	// netns and containers are the counts by network namespace and by
	// container, ranked alike (groups.go); nil when no row carries one.
	netns, containers []groupCount
	// noStats counts, when statistics were asked for, the rows without
	// them by reason (statsReasons).
	noStats [numStatsReasons]uint64
	// listeners are the distinct listening endpoints, at most the cap,
	// ordered by port, address and process; omitted counts the rest.
	listeners []listenerInfo
	omitted   int
}

// groupCount is the row counts by state index of one value of a grouping
// label: a process, a network namespace or a container.
type groupCount struct {
	label  string // the label value
	name   string // a namespace's name (netns_name), for namespaces only
	states [numStates]uint64
	total  uint64
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

// newTally reduces rows as cfg says: the number of named processes,
// namespaces and containers kept, the cap on listener series, whether
// statistics were asked for.
func newTally(rows []tcptable.Connection, cfg *config) *tally {
	t := &tally{rows: len(rows)}
	byOwner := make(map[owner]*groupCount)
	var lns []listenerRow
	var ns nsGroups
	var cs containerGroups
	for i := range rows {
		c := &rows[i]
		st := stateIndex(c.State)
		t.byState[st][familyIndex(c)]++
		if c.OwnerStatus == tcptable.OwnerPermissionDenied || c.ModuleStatus == tcptable.OwnerPermissionDenied {
			t.hidden++
		}
		if cfg.stats && c.Stats == nil {
			t.noStats[statsReason(c.StatsStatus)]++
		}
		o := ownerOf(c)
		pc := byOwner[o]
		if pc == nil {
			pc = &groupCount{}
			byOwner[o] = pc
		}
		pc.states[st]++
		pc.total++
		if cfg.topNetNS > 0 {
			ns.add(c, st)
		}
		if cfg.topContainers > 0 {
			cs.add(c, st)
		}
		if c.State == tcptable.StateListen {
			lns = append(lns, listenerRow{addr: c.Local.Addr(), port: c.Local.Port(), owner: o})
		}
	}
	t.procs = topProcesses(byOwner, cfg.top)
	t.netns = ns.top(cfg.topNetNS)
	t.containers = cs.top(cfg.topContainers)
	t.listeners, t.omitted = boundListeners(lns, cfg.maxListeners)
	return t
}

// topProcesses labels the per-owner counts and keeps the top named
// processes by rows; the rest are summed into "other". Reserved buckets
// come after, in a fixed order. Names that label alike are merged, so no
// two entries share a label.
func topProcesses(byOwner map[owner]*groupCount, top int) []groupCount {
	named := make(map[string]*groupCount, len(byOwner))
	reserved := map[string]*groupCount{}
	for o, pc := range byOwner {
		m := named
		if o.reserved != "" {
			m = reserved
		}
		l := o.label()
		if prev := m[l]; prev != nil {
			prev.add(pc)
		} else {
			pc.label = l
			m[l] = pc
		}
	}
	list := make([]groupCount, 0, len(named)+1+len(reserved))
	for _, pc := range named {
		list = append(list, *pc)
	}
	list = rankGroups(list, top)
	for _, l := range []string{processKernel, processHidden, processUnknown} {
		if pc := reserved[l]; pc != nil {
			list = append(list, *pc)
		}
	}
	return list
}

// rankGroups orders list by rows (most first, then by label) and keeps
// the first top, summing the rest into one "other" entry.
func rankGroups(list []groupCount, top int) []groupCount {
	slices.SortFunc(list, func(a, b groupCount) int {
		if c := cmp.Compare(b.total, a.total); c != 0 {
			return c
		}
		return cmp.Compare(a.label, b.label)
	})
	if len(list) > top {
		other := groupCount{label: processOther}
		for i := range list[top:] {
			other.add(&list[top+i])
		}
		list = append(list[:top], other)
	}
	return list
}

// add adds o's counts to p.
func (p *groupCount) add(o *groupCount) {
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
