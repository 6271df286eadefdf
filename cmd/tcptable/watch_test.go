package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/providers/mock"
)

// steered is the mock with a script: before its n-th Table call it applies
// edits[n] to the mock; after the last edit's poll it cancels the run's
// context, as Ctrl-C would. The output is then the same on every run, at
// whatever speed the polls come.
type steered struct {
	*mock.Provider
	edits  []func(p *mock.Provider)
	cancel context.CancelFunc
	mu     sync.Mutex
	calls  int
}

func (s *steered) Table(ctx context.Context, q tcptable.Query) ([]tcptable.Connection, error) {
	s.mu.Lock()
	n := s.calls
	s.calls++
	s.mu.Unlock()
	if n < len(s.edits) {
		s.edits[n](s.Provider)
	} else {
		s.cancel()
	}
	return s.Provider.Table(ctx, q)
}

// watchScript opens, changes and closes rows of linuxRows over five polls.
func watchScript() []func(p *mock.Provider) {
	rows := linuxRows()
	nginxEst, curl, hidden := rows[3], rows[4], rows[6]
	return []func(p *mock.Provider){
		func(p *mock.Provider) { p.Set(rows[0], rows[2], nginxEst, curl) }, // baseline
		func(p *mock.Provider) { p.Add(hidden) },                           // opened (owner hidden)
		func(p *mock.Provider) { // curl closes first: FIN-WAIT-1 / CLOSE-WAIT
			p.SetState(curl.Key(), tcptable.StateFinWait1)
			p.SetState(nginxEst.Key(), tcptable.StateCloseWait)
		},
		func(*mock.Provider) {}, // nothing changes
		func(p *mock.Provider) { // curl's end passes to the kernel; nginx's end goes; sshd hands its listener over
			p.Update(curl.Key(), func(c *tcptable.Connection) {
				*c = tcptable.Connection{State: tcptable.StateTimeWait, OSState: 6, Local: c.Local, Remote: c.Remote,
					OwnerStatus: tcptable.OwnerKernel, ModuleStatus: tcptable.OwnerKernel}
			})
			p.Remove(nginxEst.Key())
			p.Update(rows[2].Key(), func(c *tcptable.Connection) { c.OtherPIDs = []uint32{4244} })
		},
	}
}

func TestWatchGolden(t *testing.T) {
	for _, tt := range []struct{ name, args, stderr string }{
		{"watch", "--watch 10ms --poll", "tcptable: watching 4 endpoints, polling every 10ms: --poll; Ctrl-C stops\n" +
			hidden(1, 5)},
		{"watch-ndjson", "--watch=10ms --ndjson -s --poll", ""},
		{"watch-listeners", "-l --watch 0.01 -s --poll", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			p := &steered{Provider: mock.New(), edits: watchScript(), cancel: cancel}
			a, stdout, stderr := testApp(p)
			assert.Equal(t, exitOK, a.run(ctx, strings.Fields(tt.args)), "Ctrl-C ends --watch with success; stderr: %s", stderr)
			golden(t, tt.name, stdout.Bytes())
			if tt.stderr != "" {
				assert.Equal(t, tt.stderr, stderr.String())
			}
			assert.Len(t, p.Queries(), len(p.edits)+1)
		})
	}
}

func TestWatchErrors(t *testing.T) {
	t.Run("a failing poll ends the watch", func(t *testing.T) {
		p := mock.New(linuxRows()...)
		p.FailNext(nil, errors.New("netlink: gone"))
		a, _, stderr := testApp(p)
		assert.Equal(t, exitFail, a.run(context.Background(), []string{"--watch=10ms", "--poll"}))
		assert.Contains(t, stderr.String(), "tcptable: netlink: gone\n")
	})
	t.Run("an inconsistent poll is skipped", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		rows := linuxRows()
		p := &steered{Provider: mock.New(), cancel: cancel, edits: []func(*mock.Provider){
			func(p *mock.Provider) { p.Set(rows[0]) },
			func(p *mock.Provider) { p.FailNext(tcptable.ErrInconsistent) },
			func(p *mock.Provider) { p.Add(rows[1]) },
		}}
		a, stdout, stderr := testApp(p)
		assert.Equal(t, exitOK, a.run(ctx, []string{"--watch=10ms", "--poll"}), stderr.String())
		assert.Equal(t, 2, strings.Count(stdout.String(), "\n"), "the header and one event: %s", stdout.String())
		assert.Contains(t, stdout.String(), " opened ")
	})
	t.Run("Ctrl-C before the first poll", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		a, stdout, _ := testApp(mock.New(linuxRows()...))
		assert.Equal(t, exitOK, a.run(ctx, []string{"--watch"}))
		assert.Empty(t, stdout.String())
	})
}

func TestResolveTimeout(t *testing.T) {
	p := mock.New(linuxRows()...)
	a, stdout, _ := testApp(p)
	var started, running atomic.Int32
	a.lookup = func(ctx context.Context, addr string) ([]string, error) {
		started.Add(1)
		running.Add(1)
		defer running.Add(-1)
		<-ctx.Done() // a DNS server that never answers
		return nil, ctx.Err()
	}
	a.resolveTimeout = 50 * time.Millisecond
	require.Equal(t, exitOK, a.run(context.Background(), []string{"-r"}))
	assert.Contains(t, stdout.String(), "127.0.0.1:8080", "unresolved addresses stay numeric")
	assert.Positive(t, started.Load(), "lookups were made")
	// Every lookup sees the deadline and returns: nothing is left behind.
	assert.Eventually(t, func() bool { return running.Load() == 0 }, 5*time.Second, time.Millisecond)
}

// syncBuffer is an output that the command and a test's script may use at
// once: serve's lockedWriter over a buffer the script may read.
type syncBuffer struct{ lockedWriter }

func newSyncBuffer() *syncBuffer { return &syncBuffer{lockedWriter{w: new(bytes.Buffer)}} }

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.w.(*bytes.Buffer).String()
}

// waitFor waits until the output holds s, for at most a minute.
func (b *syncBuffer) waitFor(t *testing.T, s string) {
	b.waitUntil(t, fmt.Sprintf("said %q", s), func(out string) bool { return strings.Contains(out, s) })
}

// waitLines waits until the output holds n lines, for at most a minute.
func (b *syncBuffer) waitLines(t *testing.T, n int) {
	b.waitUntil(t, fmt.Sprintf("had %d lines", n), func(out string) bool { return strings.Count(out, "\n") >= n })
}

// waitUntil waits until ok holds for the output, for at most a minute; it
// fails the test saying the output never did what.
func (b *syncBuffer) waitUntil(t *testing.T, what string, ok func(out string) bool) {
	for deadline := time.Now().Add(time.Minute); !ok(b.String()); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Errorf("the output never %s; it is:\n%s", what, b.String())
			return
		}
	}
}

// tracedApp is testApp with outputs a script may watch, and a clock that
// stands still (how often a traced watch reads it depends on timing).
func tracedApp(p tcptable.Provider) (*app, *syncBuffer, *syncBuffer) {
	a, _, _ := testApp(p)
	stdout, stderr := newSyncBuffer(), newSyncBuffer()
	a.stdout, a.stderr = stdout, stderr
	a.now = func() time.Time { return t0.Add(time.Second) }
	return a, stdout, stderr
}

// TestWatchTracedGolden: --watch follows the mock's trace: a connection
// that lives two milliseconds is printed opened, changed and closed, and
// a loss is printed, followed by what a new snapshot shows.
func TestWatchTracedGolden(t *testing.T) {
	for _, tt := range []struct{ name, args string }{
		{"watch-traced", "--watch 10ms"},
		{"watch-traced-ndjson", "--watch=10ms --ndjson"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rows := linuxRows()
			p := mock.New(rows[0], rows[2])
			tick := t0
			p.SetClock(func() time.Time { tick = tick.Add(time.Millisecond); return tick })
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			a, stdout, stderr := tracedApp(p)
			go func() {
				defer cancel()
				stderr.waitFor(t, "Ctrl-C stops") // the baseline is taken
				curl := rows[4]
				p.Add(curl)
				p.SetState(curl.Key(), tcptable.StateFinWait1)
				p.Remove(curl.Key())
				stdout.waitLines(t, 3)
				p.LoseEvents(2)
				p.Set(rows[0], rows[1], rows[2], rows[3]) // two opened, both lost
				stdout.waitLines(t, 3+1+2)
			}()
			assert.Equal(t, exitOK, a.run(ctx, strings.Fields(tt.args)), stderr.String())
			golden(t, tt.name, []byte(stdout.String()))
			assert.Equal(t, "tcptable: watching 2 endpoints with kernel events (mock); Ctrl-C stops\n", stderr.String())
		})
	}
}

// TestWatchSources: stderr names the source once, and again when a trace
// gives way to polling.
func TestWatchSources(t *testing.T) {
	notHere := fmt.Errorf("mock: trace: %w: needs CAP_BPF", tcptable.ErrNotSupported)
	rows := linuxRows()
	for _, tt := range []struct {
		name   string
		args   string
		p      func(m *mock.Provider) tcptable.Provider
		script func(t *testing.T, m *mock.Provider, stderr *syncBuffer)
		stderr string
	}{
		{"not permitted", "--watch 10ms", func(m *mock.Provider) tcptable.Provider {
			m.FailTrace(notHere)
			return m
		}, nil, "tcptable: watching 1 endpoints, polling every 10ms: mock: trace: not supported: needs CAP_BPF; Ctrl-C stops\n"},
		{"--poll", "--watch 20ms --poll", func(m *mock.Provider) tcptable.Provider { return m }, nil,
			"tcptable: watching 1 endpoints, polling every 20ms: --poll; Ctrl-C stops\n"},
		{"no tracer", "--watch 10ms", func(m *mock.Provider) tcptable.Provider { return struct{ tcptable.Provider }{m} }, nil,
			"tcptable: watching 1 endpoints, polling every 10ms: struct { tcptable.Provider } has no kernel events (no tcptable.Tracer); Ctrl-C stops\n"},
		{"trace gives way", "--watch 10ms", func(m *mock.Provider) tcptable.Provider { return m },
			func(t *testing.T, m *mock.Provider, stderr *syncBuffer) {
				m.EndTraces(notHere)
				stderr.waitFor(t, "kernel events ended")
			}, "tcptable: watching 1 endpoints with kernel events (mock); Ctrl-C stops\n" +
				"tcptable: kernel events ended (mock: trace: not supported: needs CAP_BPF): polling every 10ms from now on\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			m := mock.New(rows[0])
			a, stdout, stderr := tracedApp(tt.p(m))
			go func() {
				defer cancel()
				stderr.waitFor(t, "Ctrl-C stops")
				if tt.script != nil {
					tt.script(t, m, stderr)
				}
				// Whatever the source, a new listener is printed.
				m.Add(rows[1])
				stdout.waitLines(t, 2) // the header and the event
			}()
			assert.Equal(t, exitOK, a.run(ctx, strings.Fields(tt.args)))
			assert.Equal(t, tt.stderr, stderr.String())
			assert.Contains(t, stdout.String(), " opened ")
		})
	}
	t.Run("trace fails", func(t *testing.T) {
		p := mock.New(rows[0])
		a, _, stderr := tracedApp(p)
		go func() {
			stderr.waitFor(t, "Ctrl-C stops")
			p.EndTraces(errors.New("mock: ring buffer: bad record"))
		}()
		assert.Equal(t, exitFail, a.run(context.Background(), []string{"--watch"}))
		assert.Contains(t, stderr.String(), "tcptable: trace ended: mock: ring buffer: bad record\n")
	})
	t.Run("--poll without --watch", func(t *testing.T) {
		a, _, stderr := tracedApp(mock.New())
		assert.Equal(t, exitUsage, a.run(context.Background(), []string{"--poll"}))
		assert.Contains(t, stderr.String(), "--poll says how --watch follows changes: add --watch")
	})
}
