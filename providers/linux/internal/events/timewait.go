package events

import (
	"runtime"
	"sync/atomic"
)

// DefaultTimeWaitSlots is the default size of the TIME-WAIT birth table:
// 32,768 slots of 16 bytes (512 KiB), shared out among the CPUs, at
// least 1,024 each. Each CPU keeps the births of the last minisockets it
// made: at least the last 16,384 of a 2-CPU machine's (a minute of 270
// connections a second); older ones have lost their birth time, the
// oldest first, as the kernel ends them.
const DefaultTimeWaitSlots = 1 << 15

// twSlotsPerCPU shares about total slots (0: DefaultTimeWaitSlots) out
// among cpus CPUs: a power of two each, from 1,024 to 1 << 20.
func twSlotsPerCPU(total, cpus int) int {
	if total <= 0 {
		total = DefaultTimeWaitSlots
	}
	per := 1 << 10
	for per < 1<<20 && per*2*max(cpus, 1) <= total {
		per *= 2
	}
	return per
}

// TimeWaitBirths knows the birth of each connection a TIME-WAIT
// minisocket took over, by the socket cookie sock_diag reports for the
// minisocket. The programs write them to rings in shared memory (a BPF
// array mapped into the process, see the program's tw_births): Sync reads
// what they wrote since its last call, without a system call, and Birth
// answers from what Sync read. A TimeWaitBirths is used by one goroutine
// at a time; Birth may be called from several at once between Syncs.
type TimeWaitBirths struct {
	// table is the mapped array, 2 words a slot: rings of perCPU slots,
	// one per CPU, then each ring's count of slots written.
	table  []uint64
	perCPU uint64 // a power of two
	rings  uint64
	keep   any // what keeps the memory of table mapped

	read    []uint64          // per ring: slots read so far
	cookies []uint64          // per slot: the cookie read from it
	births  map[uint64]uint64 // cookie -> birth
}

// newTimeWaitBirths returns the reader of a table of rings rings of
// perCPU slots each (a power of two) and their counts; keep is what keeps
// the memory of table alive. A table of another shape knows no birth.
func newTimeWaitBirths(table []uint64, perCPU, rings uint64, keep any) *TimeWaitBirths {
	t := &TimeWaitBirths{births: map[uint64]uint64{}}
	if perCPU == 0 || perCPU&(perCPU-1) != 0 || rings == 0 || uint64(len(table)) != 2*(rings*perCPU+rings) {
		return t
	}
	t.table, t.perCPU, t.rings, t.keep = table, perCPU, rings, keep
	t.read = make([]uint64, rings)
	t.cookies = make([]uint64, rings*perCPU)
	return t
}

// Sync reads the slots the programs wrote since the last call: a slot
// written again replaces what was read from it.
func (t *TimeWaitBirths) Sync() {
	if t == nil {
		return
	}
	for ring := range t.rings {
		count := atomic.LoadUint64(&t.table[2*(t.rings*t.perCPU+ring)])
		from := t.read[ring]
		if count < from || count-from > t.perCPU {
			// Written all round since (or the count went back, which
			// the programs do not do): every slot is new.
			from = count - min(count, t.perCPU)
		}
		for n := from; n < count; n++ {
			k := ring*t.perCPU + n&(t.perCPU-1)
			if old := t.cookies[k]; old != 0 {
				delete(t.births, old)
				t.cookies[k] = 0
			}
			if c, b, ok := t.slot(k); ok {
				t.births[c] = b
				t.cookies[k] = c
			}
		}
		t.read[ring] = count
	}
	runtime.KeepAlive(t.keep)
}

// slot reads slot k: its cookie and birth, if both are set and the
// cookie did not change while the birth was read.
func (t *TimeWaitBirths) slot(k uint64) (cookie, birth uint64, ok bool) {
	s := t.table[2*k : 2*k+2 : 2*k+2]
	cookie = atomic.LoadUint64(&s[0])
	birth = atomic.LoadUint64(&s[1])
	ok = cookie != 0 && birth != 0 && atomic.LoadUint64(&s[0]) == cookie
	return cookie, birth, ok
}

// Birth returns the birth of the connection of the TIME-WAIT minisocket
// with this cookie, as of the last Sync, if it is kept.
func (t *TimeWaitBirths) Birth(cookie uint64) (birth uint64, ok bool) {
	if t == nil || cookie == 0 {
		return 0, false
	}
	birth, ok = t.births[cookie]
	return birth, ok
}
