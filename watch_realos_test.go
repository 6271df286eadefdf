package tcptable_test

import (
	"context"
	"errors"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/conformance"
	"github.com/tcptable/tcptable/internal/nativetest"
	"github.com/tcptable/tcptable/internal/testenv"
)

// TestWatchTracedRealOS watches this host through the native provider with
// kernel events and an interval of an hour, so that nothing comes from
// polling: a pair that lives a few milliseconds must be reported, both
// ends opened (the dialing end by this process), the accepted end closed
// and the dialing end closed or in TIME-WAIT, in the order Diff would give.
func TestWatchTracedRealOS(t *testing.T) {
	p := nativetest.New(t, "traced watches are covered against fakes and the mock")
	if _, ok := p.(tcptable.Tracer); !ok {
		t.Skipf("the native provider on %s (%T) has no kernel events; traced watches are covered against fakes and the mock", runtime.GOOS, p)
	}
	for _, network := range []string{"tcp4", "tcp6"} {
		t.Run(network, func(t *testing.T) {
			q := tcptable.Query{Family: tcptable.IPv4}
			if network == "tcp6" {
				q.Family = tcptable.IPv6
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			w := tcptable.NewWatcher(p, q, tcptable.WithInterval(time.Hour))
			defer w.Close()
			require.NoError(t, w.Start(ctx))
			if src := w.Source(); !src.Traced {
				testenv.SkipOrFail(t, "no kernel events here (hint: run as root on Linux 5.8+ with BTF): %s", src.Reason)
			}
			pair, err := conformance.OSEnv().Dial(network)
			if errors.Is(err, tcptable.ErrNotSupported) {
				testenv.SkipOrFail(t, "no %s loopback: %v", network, err)
			}
			require.NoError(t, err)
			require.NoError(t, pair.CloseActive()) // no poll could see it
			require.NoError(t, pair.Close())
			client := tcptable.Key{Local: pair.Client(), Remote: pair.Server()}
			server := tcptable.Key{Local: pair.Server(), Remote: pair.Client()}

			seen := map[tcptable.Key][]tcptable.Event{}
			done := func() bool {
				ends := func(k tcptable.Key) bool {
					for _, e := range seen[k] {
						if e.Kind == tcptable.EventClosed || e.After.State == tcptable.StateTimeWait {
							return true
						}
					}
					return false
				}
				return len(seen[client]) > 0 && ends(client) && len(seen[server]) > 0 && ends(server)
			}
			for !done() {
				events, err := w.Next(ctx)
				require.NoError(t, err, "after %v", seen)
				for _, e := range events {
					require.NotEqual(t, tcptable.EventLost, e.Kind, "events were lost on an idle host")
					// Keys carry the provider's network namespace
					// (Connection.NetNS on Linux), which this test does
					// not know: match the addresses.
					k := e.Key
					k.NetNS = 0
					if k == client || k == server {
						seen[k] = append(seen[k], e)
					}
				}
			}
			for _, k := range []tcptable.Key{client, server} {
				first := seen[k][0]
				assert.Equal(t, tcptable.EventOpened, first.Kind, "%v: first %v", k, first)
				assert.WithinDuration(t, time.Now(), first.Time, time.Minute, "the OS's time, as wall time")
				assert.Equal(t, first.Time, first.After.FirstSeen)
				for _, e := range seen[k] {
					assert.Contains(t, []uint32{0, uint32(os.Getpid())}, e.Row().PID, "%v", e)
				}
			}
			if src := w.Source(); src.Name != "sock_diag" {
				assert.Equal(t, uint32(os.Getpid()), seen[client][0].After.PID, "connect runs in this process: %v", seen[client][0])
			} else if testenv.Required() {
				t.Errorf("the trace fell back to sock_diag (%s is set: the BPF source must run)", testenv.RequireEnv)
			}
			// (The sock_diag source of Linux without BPF privileges sees
			// the pair only at its end: opened then, without owner.)
			assert.Equal(t, tcptable.EventClosed, seen[server][len(seen[server])-1].Kind)
			_, ok := w.FirstSeen(seen[server][0].Key)
			assert.False(t, ok, "the closed end left the view")
			assertNoOverlap(t, w.Table())
		})
	}
}

// assertNoOverlap checks that the view has no two rows with one Key.
func assertNoOverlap(t *testing.T, rows []tcptable.Connection) {
	t.Helper()
	seen := map[tcptable.Key]bool{}
	for _, c := range rows {
		assert.False(t, seen[c.Key()], "two rows with Key %v in the view", c.Key())
		seen[c.Key()] = true
	}
}
