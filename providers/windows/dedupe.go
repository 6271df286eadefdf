package windows

import (
	"encoding/binary"
	"math/bits"
	"math/rand/v2"

	"github.com/tcptable/tcptable"
)

// smallTable is the most rows a deduper made for one call handles without
// allocating: its slot table (twice as many int32s) lives on the stack.
const smallTable = 256

// deduper drops rows that repeat a Key. Windows builds its table
// atomically, but Wine builds it from non-atomic reads of /proc/net/tcp and
// tcp6, so a socket that moves in the kernel's hash table while Wine reads
// it can be listed twice (under TIME-WAIT churn, 88 of 400 answers held a
// duplicate). The rows of one Key are one socket: the later report is the
// more recent, and it takes the earlier one's place.
//
// It is an open-addressing hash table of row indexes, keyed by a seeded
// hash of the Key (the random seed keeps a local user from choosing ports
// that collide). A deduper may be reused: it keeps the memory of its
// largest table; tables of up to smallTable rows live on the stack.
type deduper struct {
	seed  [4]uint64
	slots []uint64 // reused slot table for more than smallTable rows
}

func newDeduper() deduper {
	return deduper{seed: [4]uint64{rand.Uint64(), rand.Uint64(), rand.Uint64(), rand.Uint64()}}
}

// table returns a cleared slot table for n rows (a power of two of at
// least 2n entries): stack if it is large enough, else d's own memory.
func (d *deduper) table(n int, stack []uint64) []uint64 {
	size := 8
	for size < 2*n {
		size *= 2
	}
	var s []uint64
	switch {
	case size <= len(stack):
		s = stack[:size]
	case size <= cap(d.slots):
		s = d.slots[:size]
	default:
		d.slots = make([]uint64, size)
		s = d.slots
	}
	clear(s)
	return s
}

// hash returns the hash of c's Key: a wyhash-style mix of its addresses,
// ports and, for a row without a remote end, the identity Key adds
// (Connection.Socket, else the PID), with d's random seeds. Rows with equal
// Keys have equal hashes; the zone is left out (rows that differ only in
// it collide, and equality of the whole Key settles them).
func (d *deduper) hash(c *tcptable.Connection) uint64 {
	l, r := c.Local.Addr().As16(), c.Remote.Addr().As16()
	le := binary.LittleEndian
	h := mix(le.Uint64(l[:8])^d.seed[0], le.Uint64(l[8:])^d.seed[1])
	h = mix(h^le.Uint64(r[:8]), le.Uint64(r[8:])^d.seed[2])
	var id uint64
	if c.Remote.Port() == 0 {
		id = c.Socket<<32 ^ uint64(c.PID)
	}
	ports := uint64(c.Local.Port())<<16 | uint64(c.Remote.Port())
	return mix(h^ports, id^d.seed[3])
}

// mix folds the 128-bit product of a and b.
func mix(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

// dedupe compacts rows so that no two share a Key: of the rows with one
// Key, the last one is kept, at the position of the first. When src is not
// nil (len(src) >= len(rows)), src[i] is set to the index in the original
// rows of the row that ends up at i. It returns the compacted rows.
func (d *deduper) dedupe(rows []tcptable.Connection, src []int32) []tcptable.Connection {
	var stack [2 * smallTable]uint64
	slots := d.table(len(rows), stack[:])
	mask := uint64(len(slots) - 1)
	w := 0
	for i := range rows {
		h := d.hash(&rows[i])
		fp := h &^ 0xFFFFFFFF // a slot holds the hash's upper half and index+1
		at := -1
		for s := h & mask; ; s = (s + 1) & mask {
			e := slots[s]
			if e == 0 {
				slots[s] = fp | uint64(w+1)
				break
			}
			if j := int(uint32(e)) - 1; e&^0xFFFFFFFF == fp && rows[j].Key() == rows[i].Key() {
				at = j
				break
			}
		}
		if at < 0 {
			at = w
			w++
		}
		if at != i {
			rows[at] = rows[i]
		}
		if src != nil {
			src[at] = int32(i)
		}
	}
	clear(rows[w:]) // drop what the removed copies pointed to
	return rows[:w]
}
