package main

import (
	"context"
	"errors"
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
		{"watch", "--watch 10ms", "tcptable: watching 4 endpoints every 10ms; Ctrl-C stops\n" +
			hidden(1, 5)},
		{"watch-ndjson", "--watch=10ms --ndjson -s", ""},
		{"watch-listeners", "-l --watch 0.01 -s", ""},
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
		assert.Equal(t, exitFail, a.run(context.Background(), []string{"--watch=10ms"}))
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
		assert.Equal(t, exitOK, a.run(ctx, []string{"--watch=10ms"}), stderr.String())
		assert.Equal(t, 1, strings.Count(stdout.String(), "\n"), stdout.String())
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
