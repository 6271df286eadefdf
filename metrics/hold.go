package metrics

import (
	"time"

	"github.com/tcptable/tcptable"
)

// A connection a server accepts is born in its listener's accept queue,
// owned by the kernel: the trace reports it opened with no process, and
// the process that accepts it becomes its owner in a later owner-changed
// event. Counted at its open, every accepted connection would be the
// kernel's. So an open owned by the kernel is held until the first event
// that names a process (or the close, or openHold, whichever comes first)
// and counted once, then, for that process.
const (
	// openHold is how long an open waits for its owner before it is
	// counted for the bucket its open event named ([kernel] for a
	// connection nobody accepted in that time).
	openHold = 5 * time.Second
	// maxHeldOpens bounds the opens waiting for their owner; beyond it an
	// open is counted at once for the bucket its event named.
	maxHeldOpens = 1 << 12
)

// The reasons an open was counted without the process that came to own
// it, the values of tcptable_trace_opens_unattributed_total's reason label.
const (
	unattributedTimeout  = iota // no owner within openHold
	unattributedOverflow        // maxHeldOpens were already held
	numUnattributed
)

var unattributedLabels = [numUnattributed]string{"timeout", "overflow"}

// heldOpens are the opens waiting for their owner. It is not safe for
// concurrent use (Collector.mu guards it).
type heldOpens struct {
	m map[tcptable.Key]heldOpen
	// queue lists the held opens in arrival order, for expiry; it may
	// still list opens released since, which expire skips.
	queue        []heldKey
	unattributed [numUnattributed]uint64
}

// heldOpen is one open waiting for its owner.
type heldOpen struct {
	label string    // the bucket its open event named
	since time.Time // when it was held
}

// heldKey is a queue entry.
type heldKey struct {
	k     tcptable.Key
	since time.Time
}

func newHeldOpens() *heldOpens { return &heldOpens{m: map[tcptable.Key]heldOpen{}} }

// hold holds the open of k, which its event counts for the bucket label,
// at now, and reports whether it did; when it did not (too many held), the
// caller counts the open at once and it is counted as unattributed. An
// open of k still held (whose close the trace did not report) is counted
// through count first.
func (h *heldOpens) hold(k tcptable.Key, label string, now time.Time, count func(label string)) bool {
	if old, ok := h.m[k]; ok {
		delete(h.m, k)
		count(old.label)
	}
	h.expire(now, count)
	if len(h.m) >= maxHeldOpens {
		h.unattributed[unattributedOverflow]++
		return false
	}
	h.m[k] = heldOpen{label: label, since: now}
	h.queue = append(h.queue, heldKey{k, now})
	return true
}

// release ends the hold of k and returns the bucket its open named; ok is
// false when k was not held, or held too long before now() (then it was
// counted through count, with the other opens that waited too long). It
// reads the clock only when something is held.
func (h *heldOpens) release(k tcptable.Key, now func() time.Time, count func(label string)) (label string, ok bool) {
	if len(h.m) == 0 {
		return "", false
	}
	h.expire(now(), count)
	o, ok := h.m[k]
	if ok {
		delete(h.m, k)
	}
	return o.label, ok
}

// expire counts, through count, every open held since openHold before now
// or longer, for the bucket its event named.
func (h *heldOpens) expire(now time.Time, count func(label string)) {
	cut := now.Add(-openHold)
	i := 0
	for ; i < len(h.queue) && !h.queue[i].since.After(cut); i++ {
		q := h.queue[i]
		if o, ok := h.m[q.k]; ok && o.since.Equal(q.since) {
			delete(h.m, q.k)
			h.unattributed[unattributedTimeout]++
			count(o.label)
		}
	}
	h.queue = h.queue[i:]
	// Released opens stay queued until they would expire: compact when
	// they dominate, so the queue stays within a small multiple of the map.
	if len(h.queue) > 2*len(h.m)+64 {
		live := make([]heldKey, 0, 2*len(h.m)+16)
		for _, q := range h.queue {
			if o, ok := h.m[q.k]; ok && o.since.Equal(q.since) {
				live = append(live, q)
			}
		}
		h.queue = live
	}
}
