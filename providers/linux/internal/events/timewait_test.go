package events

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// ring is a TIME-WAIT birth table as the programs write it.
type ring struct {
	table      []uint64
	per, rings uint64
}

func newRing(per, rings uint64) *ring {
	return &ring{table: make([]uint64, 2*(per*rings+rings)), per: per, rings: rings}
}

// put writes a slot of ring r as keep_tw_birth does.
func (r *ring) put(cpu, cookie, birth uint64) {
	count := &r.table[2*(r.rings*r.per+cpu)]
	k := 2 * (cpu*r.per + *count&(r.per-1))
	r.table[k], r.table[k+1] = cookie, birth
	*count++
}

// TestTimeWaitBirths: Sync learns each ring's new slots; a slot written
// again forgets its former cookie; a ring written all round since the
// last Sync is read whole; a slot being written (cookie 0) is no birth.
func TestTimeWaitBirths(t *testing.T) {
	r := newRing(4, 2)
	tw := newTimeWaitBirths(r.table, 4, 2, nil)
	want := func(cookie, birth uint64) {
		t.Helper()
		b, ok := tw.Birth(cookie)
		assert.Equal(t, birth != 0, ok, "cookie %d", cookie)
		assert.Equal(t, birth, b, "cookie %d", cookie)
	}
	r.put(0, 10, 100)
	r.put(1, 20, 200)
	r.put(0, 11, 110)
	want(10, 0) // not synced yet
	tw.Sync()
	want(10, 100)
	want(11, 110)
	want(20, 200)
	want(0, 0)
	want(99, 0)
	// Ring 0 goes round: 12, 13, then 14 takes 10's slot.
	r.put(0, 12, 120)
	r.put(0, 13, 130)
	r.put(0, 14, 140)
	tw.Sync()
	want(10, 0)
	want(11, 110)
	want(14, 140)
	want(20, 200)
	// Ring 1 written all round and more since the last Sync: only the
	// last four are kept.
	for c := uint64(21); c <= 30; c++ {
		r.put(1, c, c*10)
	}
	tw.Sync()
	want(20, 0)
	want(26, 0)
	for c := uint64(27); c <= 30; c++ {
		want(c, c*10)
	}
	// A slot caught being written (cookie zeroed first) is skipped.
	r.put(0, 15, 150)
	r.table[2*1] = 0 // ring 0, slot 1 (15 replaces 11 there)
	tw.Sync()
	want(15, 0)
	want(11, 0) // its slot was written again
	// A table of the wrong shape, and none, know nothing.
	for _, bad := range []*TimeWaitBirths{
		newTimeWaitBirths(r.table, 3, 2, nil),
		newTimeWaitBirths(r.table[:len(r.table)-2], 4, 2, nil),
		nil,
	} {
		bad.Sync()
		_, ok := bad.Birth(30)
		assert.False(t, ok)
	}
}

func TestTimeWaitSlotsPerCPU(t *testing.T) {
	for _, c := range []struct{ total, cpus, want int }{
		{0, 2, 1 << 14},
		{0, 64, 1 << 10},
		{0, 1000, 1 << 10},
		{1 << 16, 1, 1 << 16},
		{100, 4, 1 << 10},
		{1 << 30, 1, 1 << 20},
	} {
		assert.Equal(t, c.want, twSlotsPerCPU(c.total, c.cpus), "%+v", c)
	}
}
