package metrics

import (
	"cmp"
	"math"
	"slices"
	"time"
)

// Per-process counters (connections opened and closed, bytes sent and
// received) must never decrease, although the set of processes worth a
// series of their own changes. counterSet keeps them so:
//
//   - at most n named processes have a slot (a series of their own); a
//     slot's values only grow, from 0 when the slot was given;
//   - every increment of a process without a slot goes to "other", which
//     therefore only grows too; the reserved buckets ([kernel], [hidden],
//     [unknown]) always have their own series;
//   - a free slot goes to the first process that needs one; once all are
//     taken, rebalance (once per table read) hands the slot of the least
//     busy process to a busier one, busyness being the exponentially
//     decayed increments (half-life decayHalfLife), and only when the
//     newcomer is at least swapFactor times as busy, so that slots do not
//     flap. The evicted process' series ends (Prometheus marks it stale);
//     if it comes back it starts again from 0, which rate() reads as a
//     counter reset.
//
// The sum of all series therefore counts every increment exactly once.
type counterSet struct {
	n     int
	slots map[string]*counterSlot // named processes with a series
	fixed map[string]*counterSlot // reserved buckets
	other counterValues
	cands map[string]*counterSlot // processes without a slot, for promotion
	last  time.Time               // the last rebalance
}

// numCounters is how many counters a counterSet keeps per process: the
// bytes sent, received and the segments retransmitted share one set, the
// connections opened and closed another (whose third value stays 0).
const numCounters = 3

// counterValues are one process' counters, by index.
type counterValues [numCounters]uint64

// counterSlot is one process' counters and busyness.
type counterSlot struct {
	v      counterValues
	recent uint64  // increments since the last rebalance
	score  float64 // decayed increments up to the last rebalance
}

// counterValue is one series' pair of values.
type counterValue struct {
	process string
	v       counterValues
}

const (
	decayHalfLife = 5 * time.Minute
	swapFactor    = 2
	minCandidates = 64 // at least this many slotless processes are tracked for promotion
)

func newCounterSet(n int) *counterSet {
	return &counterSet{
		n:     n,
		slots: make(map[string]*counterSlot, n),
		fixed: map[string]*counterSlot{},
		cands: map[string]*counterSlot{},
	}
}

// add adds d to value i (0 to numCounters-1) of the process labelled label.
func (cs *counterSet) add(label string, i int, d uint64) {
	if d == 0 {
		return
	}
	if isReserved(label) && label != processOther {
		s := cs.fixed[label]
		if s == nil {
			s = &counterSlot{}
			cs.fixed[label] = s
		}
		s.v[i] += d
		return
	}
	s := cs.slots[label]
	if s == nil && len(cs.slots) < cs.n {
		s = &counterSlot{}
		cs.slots[label] = s
	}
	if s != nil {
		s.v[i] += d
		s.recent += d
		return
	}
	cs.other[i] += d
	if cs.n == 0 {
		return
	}
	if c := cs.cands[label]; c != nil {
		c.recent += d
	} else if len(cs.cands) < max(minCandidates, 4*cs.n) {
		cs.cands[label] = &counterSlot{recent: d}
	}
}

// rebalance decays every busyness to now and hands slots of the least busy
// processes to busier processes without one.
func (cs *counterSet) rebalance(now time.Time) {
	f := 1.0
	if !cs.last.IsZero() && now.After(cs.last) {
		f = math.Exp2(-now.Sub(cs.last).Seconds() / decayHalfLife.Seconds())
	}
	cs.last = now
	for _, s := range cs.slots {
		s.score = s.score*f + float64(s.recent)
		s.recent = 0
	}
	for l, c := range cs.cands {
		c.score = c.score*f + float64(c.recent)
		c.recent = 0
		if c.score < 1 {
			delete(cs.cands, l)
		}
	}
	if len(cs.cands) == 0 {
		return
	}
	cands := sortedByScore(cs.cands, -1)
	slots := sortedByScore(cs.slots, 1)
	j := 0
	for _, c := range cands {
		if len(cs.slots) >= cs.n {
			if j == len(slots) || c.score <= swapFactor*slots[j].score {
				break
			}
			delete(cs.slots, slots[j].label)
			j++
		}
		cs.slots[c.label] = &counterSlot{score: c.score}
		delete(cs.cands, c.label)
	}
}

// scored is a label with its busyness, for sorting.
type scored struct {
	label string
	score float64
}

// sortedByScore returns m's labels by score, ascending for dir 1 and
// descending for -1, ties by label.
func sortedByScore(m map[string]*counterSlot, dir int) []scored {
	out := make([]scored, 0, len(m))
	for l, s := range m {
		out = append(out, scored{l, s.score})
	}
	slices.SortFunc(out, func(a, b scored) int {
		if c := cmp.Compare(a.score, b.score); c != 0 {
			return dir * c
		}
		return cmp.Compare(a.label, b.label)
	})
	return out
}

// values returns every series: the slots, "other" once anything went
// there, and the reserved buckets that have counts.
func (cs *counterSet) values() []counterValue {
	out := make([]counterValue, 0, len(cs.slots)+len(cs.fixed)+1)
	for l, s := range cs.slots {
		out = append(out, counterValue{l, s.v})
	}
	if cs.other != (counterValues{}) {
		out = append(out, counterValue{processOther, cs.other})
	}
	for l, s := range cs.fixed {
		out = append(out, counterValue{l, s.v})
	}
	return out
}
