package metrics

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcptable/tcptable"
)

// TestHeldOpensMemory: opens released soon after their hold (the common
// case: accepted at once) do not pile up in the expiry queue, and every
// hold ends counted exactly once, by release or by expiry.
func TestHeldOpensMemory(t *testing.T) {
	h := newHeldOpens()
	now := time.Unix(1e9, 0)
	clock := func() time.Time { return now }
	counted := 0
	count := func(string) { counted++ }
	key := func(i int) tcptable.Key {
		return tcptable.Key{Local: netip.MustParseAddrPort("127.0.0.1:80"),
			Remote: netip.MustParseAddrPort(fmt.Sprintf("127.0.0.%d:%d", 1+i/60000, 1+i%60000))}
	}
	released := 0
	const n = 100_000
	for i := range n {
		now = now.Add(time.Millisecond) // 500 unaccepted ones held at a time
		require.True(t, h.hold(key(i), processKernel, now, count))
		if i%10 != 0 { // nine in ten are accepted at once, the rest never
			_, ok := h.release(key(i), clock, count)
			require.True(t, ok)
			released++
		}
		require.LessOrEqual(t, len(h.queue), 2*len(h.m)+65, "at %d", i)
	}
	now = now.Add(openHold)
	h.expire(now, count)
	assert.Empty(t, h.m)
	assert.Empty(t, h.queue)
	assert.Equal(t, n-released, counted, "the unaccepted ones, by expiry")
	assert.Equal(t, uint64(n-released), h.unattributed[unattributedTimeout])
}
