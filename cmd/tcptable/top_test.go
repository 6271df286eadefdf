package main

import (
	"context"
	"encoding/json"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/providers/mock"
)

// statsRows is linuxRows with the statistics the Linux provider reports:
// counters for listeners and connections, none for TIME-WAIT.
func statsRows() []tcptable.Connection {
	rows := linuxRows()
	for i := range rows {
		c := &rows[i]
		if c.State == tcptable.StateTimeWait {
			c.StatsStatus = tcptable.StatsNotAvailable
			continue
		}
		c.Stats = &tcptable.Stats{MSS: 65483, CongestionWindow: 10, RTT: 52 * 1000}
		c.StatsStatus = tcptable.StatsOK
		if c.State != tcptable.StateListen {
			c.Stats.BytesSent = uint64(1000 * (i + 1))
			c.Stats.BytesReceived = uint64(300 * (i + 1))
			c.Stats.SegmentsSent, c.Stats.SegmentsReceived, c.Stats.Retransmits = uint64(i+3), uint64(i+2), uint64(i%2)
		}
	}
	return rows
}

// topScript moves bytes between polls: nginx serves curl a download,
// something hidden uploads, and a new connection of a process whose name
// holds an escape sequence appears with all its bytes since its birth.
func topScript() []func(p *mock.Provider) {
	ap := netip.MustParseAddrPort
	rows := statsRows()
	nginx, curl, hidden := rows[3].Key(), rows[4].Key(), rows[6].Key()
	evil := tcptable.Connection{State: tcptable.StateEstablished, Local: ap("127.0.0.1:6000"), Remote: ap("127.0.0.1:6001"),
		PID: 666, Module: tcptable.Module{Name: "evil\x1b[2J"}, Socket: 6000, HasUID: true,
		Stats: &tcptable.Stats{BytesSent: 5 << 20, BytesReceived: 512}}
	return []func(p *mock.Provider){
		func(p *mock.Provider) { p.Set(rows...) }, // baseline: no rates yet
		func(p *mock.Provider) {
			p.AddTraffic(nginx, 3<<20, 20_000)
			p.AddTraffic(curl, 20_000, 3<<20)
			p.AddTraffic(hidden, 700, 150_000)
		},
		func(p *mock.Provider) {
			p.AddTraffic(nginx, 1<<20, 10_000)
			p.AddTraffic(curl, 10_000, 1<<20)
			p.Add(evil)
		},
	}
}

func TestTopGolden(t *testing.T) {
	for _, tt := range []struct {
		name, args string
		sizes      [][2]int // terminal sizes, frame by frame; nil: not a terminal
	}{
		{"top", "--top 10ms", nil},
		{"top-ndjson", "--top=10ms --ndjson", nil},
		{"top-terminal", "--top 10ms -4", [][2]int{{100, 14}, {100, 14}, {100, 14}, {60, 9}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			p := &steered{Provider: mock.New(), edits: topScript(), cancel: cancel}
			a, stdout, stderr := testApp(p)
			if tt.sizes != nil {
				var mu sync.Mutex
				n := 0
				a.terminal = func() (int, int, bool) {
					mu.Lock()
					defer mu.Unlock()
					s := tt.sizes[min(n, len(tt.sizes)-1)]
					n++
					return s[0], s[1], true
				}
			}
			assert.Equal(t, exitOK, a.run(ctx, strings.Fields(tt.args)), "Ctrl-C ends --top with success; stderr: %s", stderr)
			assert.Empty(t, stderr.String())
			golden(t, tt.name, stdout.Bytes())
			for _, q := range p.Queries() {
				assert.True(t, q.Stats, "--top asks for statistics")
			}
			out := stdout.String()
			assert.NotContains(t, out, "evil\x1b", "a process name never reaches the terminal unescaped")
			if tt.sizes != nil {
				assert.True(t, strings.HasPrefix(out, ansiEnter), "the alternate screen first")
				assert.True(t, strings.HasSuffix(out, ansiLeave), "the terminal restored last")
				for i, frame := range strings.Split(out, ansiHome)[1:] {
					lines := strings.Split(strings.TrimSuffix(strings.TrimSuffix(frame, ansiLeave), ansiEOS), "\r\n")
					size := tt.sizes[min(i+1, len(tt.sizes)-1)]
					assert.LessOrEqual(t, len(lines), size[1], "frame %d fits the height", i)
					for _, l := range lines {
						assert.LessOrEqual(t, len([]rune(strings.TrimSuffix(l, ansiEOL))), size[0], "frame %d fits the width: %q", i, l)
					}
				}
			}
		})
	}
}

// TestTopNDJSON checks the rates of --top --ndjson against the script.
func TestTopNDJSON(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p := &steered{Provider: mock.New(), edits: topScript(), cancel: cancel}
	a, stdout, _ := testApp(p)
	require.Equal(t, exitOK, a.run(ctx, []string{"--top=10ms", "--ndjson"}))
	dec := json.NewDecoder(stdout)
	var frames []topJSON
	for dec.More() {
		var f topJSON
		require.NoError(t, dec.Decode(&f))
		frames = append(frames, f)
	}
	require.Len(t, frames, 2, "one line per poll after the first")
	f := frames[0]
	assert.Equal(t, 1.0, f.Interval, "the fake clock ticks a second a poll")
	assert.Equal(t, uint64(3<<20+20_000+700), f.Send)
	require.Len(t, f.Connections, 3, "idle connections are left out")
	assert.Equal(t, "127.0.0.1:8080", f.Connections[0].Connection.Local.String(), "the busiest first")
	assert.Equal(t, uint64(3<<20), f.Connections[0].Send)
	require.NotEmpty(t, f.Processes)
	assert.Equal(t, "nginx", f.Processes[0].Process)
	assert.Equal(t, uint64(3<<20), f.Processes[0].Send)
	g := frames[1]
	assert.Equal(t, uint64(5<<20), g.Connections[0].Send, "a connection born since the last poll counts all its bytes")
	assert.Equal(t, "evil\x1b[2J", g.Connections[0].Connection.Module.Name, "JSON keeps the name as it is")
}

func TestTopErrors(t *testing.T) {
	p := mock.New(statsRows()...)
	p.FailNext(nil, context.DeadlineExceeded)
	a, stdout, stderr := testApp(p)
	a.terminal = func() (int, int, bool) { return 80, 24, true }
	assert.Equal(t, exitFail, a.run(context.Background(), []string{"--top=10ms"}))
	assert.Equal(t, "tcptable: "+context.DeadlineExceeded.Error()+"\n", stderr.String())
	assert.True(t, strings.HasSuffix(stdout.String(), ansiLeave), "the terminal is restored before the error is printed")
	assert.Contains(t, stdout.String(), "measuring...", "the first frame says rates are coming")
}
