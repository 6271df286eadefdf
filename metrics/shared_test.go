package metrics

import (
	"context"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcptable/tcptable"
)

// gated answers one listener row, each Table call blocking until the
// test releases it.
type gated struct {
	calls   atomic.Int32
	entered chan struct{}
	release chan struct{}
}

func (g *gated) Table(ctx context.Context, q tcptable.Query) ([]tcptable.Connection, error) {
	g.calls.Add(1)
	g.entered <- struct{}{}
	select {
	case <-g.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return []tcptable.Connection{{State: tcptable.StateListen, Local: netip.MustParseAddrPort("127.0.0.1:80"),
		Remote: netip.MustParseAddrPort("0.0.0.0:0"), PID: 1, Module: tcptable.Module{Name: "srv"}}}, nil
}

func (g *gated) Close() error { return nil }

// waiters returns how many collects wait for the read in progress.
func (c *Collector) waiters() int {
	c.fmu.Lock()
	defer c.fmu.Unlock()
	if c.cur == nil {
		return 0
	}
	return c.cur.waiters
}

// TestSharedRead: collects that start while a read is in progress share
// it (one Table call), and each gets the full table; the next collect
// reads again.
func TestSharedRead(t *testing.T) {
	g := &gated{entered: make(chan struct{}, 10), release: make(chan struct{})}
	c := NewCollector(g)
	defer c.Close()
	const n = 5
	var wg sync.WaitGroup
	got := make([]int, n)
	for i := range n {
		wg.Go(func() {
			ch := make(chan prometheus.Metric, 100)
			c.Collect(ch)
			close(ch)
			for m := range ch {
				if m.Desc() == c.d.listenerInfo {
					got[i]++
				}
			}
		})
	}
	<-g.entered
	require.Eventually(t, func() bool { return c.waiters() == n }, 30*time.Second, time.Millisecond)
	close(g.release)
	wg.Wait()
	assert.Equal(t, int32(1), g.calls.Load(), "concurrent collects must share one read")
	assert.Equal(t, []int{1, 1, 1, 1, 1}, got, "every collect exports the shared table")

	ch := make(chan prometheus.Metric, 100)
	c.Collect(ch)
	<-g.entered
	assert.Equal(t, int32(2), g.calls.Load(), "a later collect reads again")
}

// TestSharedReadOutlivesLeader: the collect that started a read may give
// up (its context ends); the others still get the read's table.
func TestSharedReadOutlivesLeader(t *testing.T) {
	g := &gated{entered: make(chan struct{}, 10), release: make(chan struct{})}
	c := NewCollector(g)
	defer c.Close()
	leaderCtx, cancel := context.WithCancel(context.Background())
	leader := make(chan *result, 1)
	go func() { leader <- c.shared(leaderCtx) }()
	<-g.entered
	follower := make(chan *result, 1)
	go func() { follower <- c.shared(context.Background()) }()
	require.Eventually(t, func() bool { return c.waiters() == 2 }, 30*time.Second, time.Millisecond)
	cancel()
	r := <-leader
	assert.ErrorIs(t, r.err, context.Canceled)
	assert.Nil(t, r.t)
	close(g.release)
	r = <-follower
	require.NoError(t, r.err)
	require.NotNil(t, r.t)
	assert.Equal(t, 1, r.t.rows)
}
