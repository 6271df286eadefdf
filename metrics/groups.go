package metrics

import (
	"strconv"

	"github.com/tcptable/tcptable"
)

// The bucket label values of the namespace and container series, besides
// processOther.
const (
	// netnsUnknown: rows without a namespace (Connection.NetNS 0) in a
	// table where others have one.
	netnsUnknown = "[unknown]"
	// containerNone: rows of no container (the host's processes, the
	// kernel's rows) in a table where others name one.
	containerNone = "[none]"
)

// nsGroups counts rows by network namespace (Connection.NetNS). Rows of
// one namespace come together in a provider's answer, so the last
// namespace's counts are kept at hand.
type nsGroups struct {
	by      map[uint64]*groupCount
	lastIno uint64
	last    *groupCount
	carried bool // some row has a namespace
}

// add counts c, whose state index is st.
func (g *nsGroups) add(c *tcptable.Connection, st int) {
	if g.last == nil || c.NetNS != g.lastIno {
		if g.by == nil {
			g.by = map[uint64]*groupCount{}
		}
		gc := g.by[c.NetNS]
		if gc == nil {
			gc = &groupCount{name: labelValue(c.NetNSName)}
			g.by[c.NetNS] = gc
		}
		g.lastIno, g.last = c.NetNS, gc
	}
	g.carried = g.carried || c.NetNS != 0
	g.last.states[st]++
	g.last.total++
}

// top returns the counts of the top namespaces by rows, "other" and
// "[unknown]"; nil when no row has a namespace (an OS without them).
func (g *nsGroups) top(n int) []groupCount {
	if !g.carried {
		return nil
	}
	var unknown *groupCount
	list := make([]groupCount, 0, len(g.by)+1)
	for ino, gc := range g.by {
		if ino == 0 {
			unknown = gc
			continue
		}
		gc.label = strconv.FormatUint(ino, 10)
		list = append(list, *gc)
	}
	list = rankGroups(list, n)
	if unknown != nil {
		unknown.label, unknown.name = netnsUnknown, ""
		list = append(list, *unknown)
	}
	return list
}

// containerGroups counts rows by container (Connection.Container).
type containerGroups struct {
	by   map[string]*groupCount
	none groupCount // rows of no container
}

// add counts c, whose state index is st.
func (g *containerGroups) add(c *tcptable.Connection, st int) {
	gc := &g.none
	if c.Container != "" {
		if g.by == nil {
			g.by = map[string]*groupCount{}
		}
		if gc = g.by[c.Container]; gc == nil {
			gc = &groupCount{}
			g.by[c.Container] = gc
		}
	}
	gc.states[st]++
	gc.total++
}

// top returns the counts of the top containers by rows, "other" and
// "[none]"; nil when no row names a container. IDs that label alike are
// merged.
func (g *containerGroups) top(n int) []groupCount {
	if len(g.by) == 0 {
		return nil
	}
	byLabel := make(map[string]*groupCount, len(g.by))
	for id, gc := range g.by {
		l := containerLabel(id)
		if prev := byLabel[l]; prev != nil {
			prev.add(gc)
			continue
		}
		gc.label = l
		byLabel[l] = gc
	}
	list := make([]groupCount, 0, len(byLabel)+2)
	for _, gc := range byLabel {
		list = append(list, *gc)
	}
	list = rankGroups(list, n)
	if g.none.total > 0 {
		g.none.label = containerNone
		list = append(list, g.none)
	}
	return list
}

// containerLabel returns the label value of a container ID: the ID when
// it is printable UTF-8 and not a bucket's value, else Go-quoted.
func containerLabel(id string) string {
	if id == processOther || id == containerNone {
		return strconv.Quote(id)
	}
	return labelValue(id)
}

// The reasons a row has no statistics, the values of
// tcptable_stats_unavailable's reason label.
const (
	statsNotAvailable = iota
	statsPermissionDenied
	statsNotSupported
	statsUnknownReason
	numStatsReasons
)

var statsReasonLabels = [numStatsReasons]string{"not_available", "permission_denied", "not_supported", "unknown"}

// statsReason returns the reason index of a row without Stats whose
// status is s.
func statsReason(s tcptable.StatsStatus) int {
	switch s {
	case tcptable.StatsNotAvailable:
		return statsNotAvailable
	case tcptable.StatsPermissionDenied:
		return statsPermissionDenied
	case tcptable.StatsNotSupported:
		return statsNotSupported
	}
	return statsUnknownReason
}
