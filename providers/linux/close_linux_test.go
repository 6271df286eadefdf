package linux

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcptable/tcptable"
)

// TestClosePrompt: Close does not wait for the Table call in flight (here
// one that would run until its context ends) nor for the calls queued
// behind it; all of them return an error wrapping tcptable.ErrClosed, and
// so does a call made after Close.
func TestClosePrompt(t *testing.T) {
	p, err := New(WithSource(SourceProcNet), WithOwnerScan(OwnerScanProcfs))
	require.NoError(t, err)
	entered := make(chan struct{}, 1)
	p.testHookTable = func(ctx context.Context) {
		select {
		case entered <- struct{}{}:
			<-ctx.Done() // the call in flight: busy until cancelled
		default:
		}
	}
	const calls = 8
	errs := make(chan error, calls)
	var wg sync.WaitGroup
	for range calls {
		wg.Go(func() {
			_, err := p.Table(context.Background(), tcptable.Query{})
			errs <- err
		})
	}
	<-entered
	closed := make(chan error, 1)
	go func() { closed <- p.Close() }()
	select {
	case err := <-closed:
		require.NoError(t, err)
	case <-time.After(time.Minute):
		t.Fatal("Close waits for the Table call in flight")
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		assert.ErrorIs(t, err, tcptable.ErrClosed)
		assert.NotErrorIs(t, err, context.Canceled, "the caller did not cancel")
	}
	_, err = p.Table(context.Background(), tcptable.Query{})
	assert.ErrorIs(t, err, tcptable.ErrClosed)
	require.NoError(t, p.Close(), "idempotent")
}

// TestNewCloseNoLeak: 50 providers made, polled and closed leave the
// process with as many descriptors as before (netlink sockets, the procfs
// root, the BPF program and links where the scan loads).
func TestNewCloseNoLeak(t *testing.T) {
	count := func() int {
		ents, err := os.ReadDir("/proc/self/fd")
		require.NoError(t, err)
		return len(ents)
	}
	before := count()
	for range 50 {
		p, err := New()
		require.NoError(t, err)
		_, err = p.Table(context.Background(), tcptable.Query{Class: tcptable.ClassListeners})
		require.NoError(t, err)
		require.NoError(t, p.Close())
	}
	assert.Equal(t, before, count())
}
