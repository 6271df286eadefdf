package linux_test

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/conformance"
	"github.com/tcptable/tcptable/internal/netnstest"
	"github.com/tcptable/tcptable/internal/testenv"
	"github.com/tcptable/tcptable/providers/linux"
)

// listenUnspecifiedIn opens a listener on [::]:0 in ns, dual stack unless
// v6only, held by this process.
func listenUnspecifiedIn(t *testing.T, ns *netnstest.NS, v6only bool) conformance.Listener {
	t.Helper()
	var ln conformance.Listener
	err := ns.Do(func() error {
		var err error
		ln, err = conformance.OSEnv().(conformance.DualStackEnv).ListenUnspecified(v6only)
		return err
	})
	if err != nil {
		testenv.SkipOrFail(t, "cannot listen on [::] in a namespace (IPv6 disabled?): %v", err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// traceProvider opens a provider of ns whose Trace uses src, or skips.
// Its table polls (sock_diag) and TIME-WAIT polls (BPF) are an hour
// apart: what a test sees comes from the kernel's events alone.
func traceProvider(t *testing.T, ns *netnstest.NS, src linux.TraceSource) *linux.Provider {
	t.Helper()
	p, err := linux.New(linux.WithNetNS(ns.Path), linux.WithTraceSource(src), linux.WithTracePoll(time.Hour))
	require.NoError(t, err)
	t.Cleanup(func() { p.Close() })
	if got, why := p.TraceSource(); got != src {
		testenv.SkipOrFailIf(t, fmt.Errorf("no %v trace here: %v", src, why), "cannot run here")
	}
	return p
}

// traceReady traces q with p until the test ends, once the trace is live.
func traceReady(t *testing.T, p *linux.Provider, q tcptable.Query) *collector {
	t.Helper()
	col := &collector{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	ready := make(chan string, 1)
	go func() { done <- p.TraceReady(ctx, q, func(s string) { ready <- s }, col.add) }()
	t.Cleanup(func() {
		cancel()
		assert.ErrorIs(t, <-done, context.Canceled)
	})
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("Trace(%+v): %v", q, err)
	}
	return col
}

// openedClosed returns the opened and closed events of the row on local.
func openedClosed(evs []tcptable.Event, local netip.AddrPort) (opened, closed []tcptable.Event) {
	for _, e := range evs {
		switch {
		case e.Kind == tcptable.EventOpened && e.After.Local == local:
			opened = append(opened, e)
		case e.Kind == tcptable.EventClosed && e.Before.Local == local:
			closed = append(closed, e)
		}
	}
	return opened, closed
}

// TestTraceDualStackIPv4: a Trace of Query{Family: IPv4} reports a
// dual-stack listener (on [::] with IPV6_V6ONLY off, which accepts IPv4)
// opened and closed, with DualStack set as Table sets it, and a V6ONLY
// listener not at all; a Trace of both families reports both, DualStack
// on the first alone. The table polls are an hour apart: what the test
// sees comes from the kernel's events. The BPF source traces both
// listeners' openings and ends; the sock_diag source sees no opening (the
// listeners are in its first snapshot) and, from the destroy groups, both
// ends.
func TestTraceDualStackIPv4(t *testing.T) {
	v4 := tcptable.Query{Family: tcptable.IPv4}
	for i, src := range []linux.TraceSource{linux.TraceBPF, linux.TraceSockDiag} {
		t.Run(src.String(), func(t *testing.T) {
			ns := newTraceNS(t, fmt.Sprintf("tcptable-trace-ds%d", i))
			p := traceProvider(t, ns, src)
			// The sock_diag source learns of openings from polls only:
			// its listeners are there before the trace.
			traced := src == linux.TraceBPF
			var dual, only conformance.Listener
			listen := func() {
				dual = listenUnspecifiedIn(t, ns, false)
				only = listenUnspecifiedIn(t, ns, true)
			}
			if !traced {
				listen()
			}
			col, all := traceReady(t, p, v4), traceReady(t, p, tcptable.Query{})
			if traced {
				listen()
			}
			dl, ol := netip.AddrPortFrom(netip.IPv6Unspecified(), dual.Addr().Port()), netip.AddrPortFrom(netip.IPv6Unspecified(), only.Addr().Port())
			time.Sleep(20 * time.Millisecond)
			require.NoError(t, dual.Close())
			require.NoError(t, only.Close())

			for _, c := range []struct {
				col       *collector
				local     netip.AddrPort
				dualStack bool
			}{{col, dl, true}, {all, dl, true}, {all, ol, false}} {
				var opened, closed []tcptable.Event
				require.Eventually(t, func() bool {
					opened, closed = openedClosed(c.col.events(), c.local)
					return len(closed) > 0
				}, 10*time.Second, 10*time.Millisecond, "the listener %v is never reported closed (IPv4 trace: %v)", c.local, c.col == col)
				if traced {
					require.Len(t, opened, 1, "the opening of %v", c.local)
					assert.Equal(t, c.dualStack, opened[0].After.DualStack, "opened row: %v", opened[0].After)
				} else {
					require.Empty(t, opened, "the listener %v was in the first snapshot", c.local)
				}
				require.Len(t, closed, 1, "the end of %v", c.local)
				assert.Equal(t, c.dualStack, closed[0].Before.DualStack, "closed row: %v", closed[0].Before)
			}
			for _, e := range col.events() {
				for _, c := range []tcptable.Connection{e.Before, e.After} {
					assert.False(t, c.Local == ol, "the V6ONLY listener reached an IPv4 trace: %v", e)
				}
				assert.True(t, v4.Match(e.Before) || v4.Match(e.After), "an event the query does not match: %v", e)
			}
		})
	}
}

// TestWatchDualStackIPv4: a traced tcptable.Watcher of Query{Family:
// IPv4} (what tcptable --watch -4 runs) has a dual-stack listener in its
// baseline and drops it from its view when it closes, with either source.
func TestWatchDualStackIPv4(t *testing.T) {
	q := tcptable.Query{Family: tcptable.IPv4}
	for i, src := range []linux.TraceSource{linux.TraceBPF, linux.TraceSockDiag} {
		t.Run(src.String(), func(t *testing.T) {
			ns := newTraceNS(t, fmt.Sprintf("tcptable-watch-ds%d", i))
			p := traceProvider(t, ns, src)
			dual := listenUnspecifiedIn(t, ns, false)
			dp := dual.Addr().Port()
			has := func(rows []tcptable.Connection) bool {
				for _, c := range rows {
					if c.Local.Port() == dp && c.DualStack {
						return true
					}
				}
				return false
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			w := tcptable.NewWatcher(p, q, tcptable.WithInterval(time.Hour))
			defer w.Close()
			require.NoError(t, w.Start(ctx))
			require.Equal(t, src.String(), w.Source().Name, "the Watcher traces: %v", w.Source())
			require.True(t, has(w.Table()), "the baseline lacks the dual-stack listener [::]:%d", dp)

			require.NoError(t, dual.Close())
			var closed bool
			for !closed {
				evs, err := w.Next(ctx)
				require.NoError(t, err, "no end of the dual-stack listener [::]:%d reached the Watcher", dp)
				for _, e := range evs {
					closed = closed || e.Kind == tcptable.EventClosed && e.Before.Local.Port() == dp
				}
			}
			assert.False(t, has(w.Table()), "the view keeps the closed dual-stack listener")
		})
	}
}
