package metrics

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCounterSetInvariants drives a counterSet with random increments of
// many processes whose busyness shifts, rebalancing between rounds as
// scrapes do, and checks what Prometheus relies on: at most n named
// series plus "other" and the reserved buckets; a series never decreases
// while it exists; every increment is counted exactly once.
func TestCounterSetInvariants(t *testing.T) {
	for _, n := range []int{0, 1, 3, 10} {
		t.Run(fmt.Sprint("n=", n), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, uint64(n)))
			cs := newCounterSet(n)
			now := time.Unix(0, 0)
			var total, retired counterValues // every increment; final values of evicted series
			evictions := 0
			prev := map[string]counterValues{}
			for round := range 300 {
				for range 50 {
					// 40 processes; the busy ones move every 50 rounds.
					p := rng.IntN(40)
					if rng.IntN(2) == 0 {
						p = (round/50)*5 + rng.IntN(5)
					}
					label := fmt.Sprintf("proc-%d", p)
					if rng.IntN(20) == 0 {
						label = processKernel
					}
					i, d := rng.IntN(numCounters), uint64(rng.IntN(1000))
					cs.add(label, i, d)
					total[i] += d
				}
				before := valueMap(cs)
				now = now.Add(15 * time.Second)
				cs.rebalance(now)
				cur := valueMap(cs)
				named, sum := 0, retired
				for l, v := range cur {
					if !isReserved(l) {
						named++
					}
					for i := range v {
						if p, ok := prev[l]; ok {
							require.GreaterOrEqual(t, v[i], p[i], "round %d: %q went from %v to %v", round, l, p, v)
						}
						sum[i] += v[i]
					}
				}
				for l, v := range before {
					if _, ok := cur[l]; !ok { // evicted: its series ends at v
						evictions++
						for i := range v {
							retired[i] += v[i]
							sum[i] += v[i]
						}
					}
				}
				require.LessOrEqual(t, named, n)
				require.Equal(t, total, sum, "round %d: every increment counted once", round)
				prev = cur
			}
			if n > 0 {
				assert.Positive(t, evictions, "the busy processes moved: slots must have changed hands")
			}
		})
	}
}

// TestCounterSetPromotes: once every slot is taken, a process much busier
// than a slot holder takes its slot, starting from 0; one only a little
// busier does not.
func TestCounterSetPromotes(t *testing.T) {
	cs := newCounterSet(2)
	now := time.Unix(0, 0)
	cs.add("a", 0, 100)
	cs.add("b", 0, 10)
	cs.add("c", 0, 15) // no slot left: counted in other
	cs.rebalance(now)
	assert.Equal(t, map[string]counterValues{"a": {100}, "b": {10}, "other": {15}}, valueMap(cs))

	now = now.Add(time.Minute)
	cs.add("c", 0, 100)
	cs.rebalance(now) // c (115, decayed a little) is more than twice as busy as b
	assert.Equal(t, map[string]counterValues{"a": {100}, "c": {0}, "other": {115}}, valueMap(cs), "b is evicted; c starts from 0")

	now = now.Add(time.Minute)
	cs.add("c", 1, 7)
	cs.add("b", 0, 12)
	cs.rebalance(now) // b is not twice as busy as c
	assert.Equal(t, map[string]counterValues{"a": {100}, "c": {0, 7}, "other": {127}}, valueMap(cs))
}

// valueMap returns cs's series by process; it fails on two series with
// one label.
func valueMap(cs *counterSet) map[string]counterValues {
	m := map[string]counterValues{}
	for _, v := range cs.values() {
		if _, dup := m[v.process]; dup {
			panic("two series for " + v.process)
		}
		m[v.process] = v.v
	}
	return m
}
