package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/providers/mock"
)

// TestInfoGolden: -i adds the statistics to the table, JSON, NDJSON and
// CSV, and asks the provider for them.
func TestInfoGolden(t *testing.T) {
	for _, tt := range []struct{ name, args string }{
		{"info", "-i"},
		{"info-combined", "-ti4"},
		{"info-json", "--info --json"},
		{"info-ndjson", "--info --ndjson"},
		{"info-csv", "-i --csv"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := mock.New(statsRows()...)
			a, stdout, _ := testApp(p)
			require.Equal(t, exitOK, a.run(context.Background(), strings.Fields(tt.args)))
			golden(t, tt.name, stdout.Bytes())
			require.Len(t, p.Queries(), 1)
			assert.True(t, p.Queries()[0].Stats, "-i asks for statistics")
		})
	}
}

// TestInfoCSVMatchesJSON: the stats_ cells of --csv -i are the values of
// the JSON stats object, row for row.
func TestInfoCSVMatchesJSON(t *testing.T) {
	run := func(args ...string) []byte {
		a, stdout, _ := testApp(mock.New(statsRows()...))
		require.Equal(t, exitOK, a.run(context.Background(), args))
		return stdout.Bytes()
	}
	var objs []map[string]any
	require.NoError(t, json.Unmarshal(run("-i", "--json"), &objs))
	recs, err := csv.NewReader(strings.NewReader(string(run("-i", "--csv")))).ReadAll()
	require.NoError(t, err)
	require.Len(t, recs, len(objs)+1)
	header := recs[0]
	checked := 0
	for r, o := range objs {
		st, _ := o["stats"].(map[string]any)
		for i, key := range header {
			name, ok := strings.CutPrefix(key, "stats_")
			if !ok || name == "status" {
				continue
			}
			cell := recs[r+1][i]
			if st == nil {
				assert.Empty(t, cell, "row %d %s: no stats, empty cell", r, key)
				continue
			}
			if v, ok := st[name]; ok {
				b, _ := json.Marshal(v)
				assert.Equal(t, strings.Trim(string(b), `"`), cell, "row %d %s", r, key)
				checked++
			}
		}
	}
	assert.Greater(t, checked, 100)
}

func TestStatsUsage(t *testing.T) {
	for _, tt := range []struct{ args, want string }{
		{"--top --watch", "--top and --watch exclude each other"},
		{"--top -s", "--top and --summary exclude each other"},
		{"--top --json", "--top prints a stream: use --ndjson"},
		{"--top --csv", "--top does not print CSV"},
		{"--top --sort pid", "--top orders by traffic"},
		{"--top -r", "-r is not supported"},
		{"--top 0", `bad --top interval "0"`},
		{"--top=soon", `bad --top interval "soon"`},
		{"--info=2", `flag --info takes no value`},
	} {
		t.Run(tt.args, func(t *testing.T) {
			p := mock.New()
			a, stdout, stderr := testApp(p)
			assert.Equal(t, exitUsage, a.run(context.Background(), strings.Fields(tt.args)))
			assert.Empty(t, stdout.String())
			assert.Contains(t, stderr.String(), tt.want)
			assert.Empty(t, p.Queries())
		})
	}
	// Sorting by a counter asks for the counters.
	p := mock.New(statsRows()...)
	a, stdout, _ := testApp(p)
	require.Equal(t, exitOK, a.run(context.Background(), []string{"--sort=-stats-bytes-sent", "--csv", "-i"}))
	assert.True(t, p.Queries()[0].Stats)
	lines := strings.Split(stdout.String(), "\n")
	assert.True(t, strings.HasPrefix(lines[1], "CLOSE-WAIT,[fe80::1%eth0]:5353,"), "the most bytes sent (8000) first: %s", lines[1])
	p = mock.New(statsRows()...)
	a, _, _ = testApp(p)
	require.Equal(t, exitOK, a.run(context.Background(), []string{"--sort", "stats_rtt_us"}))
	assert.Equal(t, tcptable.Query{Stats: true}, p.Queries()[0])
}

func TestHumanBytes(t *testing.T) {
	for in, want := range map[float64]string{0: "0", 512: "512", 1023: "1023", 1024: "1.0K", 1536: "1.5K", 10 << 10: "10K",
		999 << 10: "999K", 3 << 20: "3.0M", 5 << 30: "5.0G", 1 << 62: "4.0E", 1 << 70: "1024E"} {
		assert.Equal(t, want, humanBytes(in), "%v", in)
	}
	assert.Equal(t, "0.052ms", millis(52_000))
	assert.Equal(t, "12.5ms", millis(12_500_000))
}

// TestWatchInfo: --watch -i shows the statistics columns of the one-shot
// table in every event line, under a header that names them, with the
// row's counters (after the change) and "-" for a row without any; the
// columns line up; without -i there are none.
func TestWatchInfo(t *testing.T) {
	rows := statsRows()
	nginxEst, curl, tw := rows[3], rows[4], rows[5]
	require.Equal(t, tcptable.StateTimeWait, tw.State)
	script := func() []func(p *mock.Provider) {
		return []func(p *mock.Provider){
			func(p *mock.Provider) { p.Set(rows[0], nginxEst) }, // baseline
			func(p *mock.Provider) { p.Add(curl, tw) },          // opened: with counters, and without
			func(p *mock.Provider) { p.SetState(nginxEst.Key(), tcptable.StateCloseWait) },
		}
	}
	run := func(args ...string) []string {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		p := &steered{Provider: mock.New(), edits: script(), cancel: cancel}
		a, stdout, stderr := testApp(p)
		require.Equal(t, exitOK, a.run(ctx, args), stderr.String())
		return strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
	}

	lines := run("--watch=10ms", "--poll", "-i")
	require.Len(t, lines, 4, "the header and three events:\n%s", strings.Join(lines, "\n"))
	header := lines[0]
	assert.Regexp(t, `^TIME +EVENT +STATE +LOCAL +REMOTE +PID +SENT +RECEIVED +RTT +RETRANS +CWND +PROCESS$`, header)
	want := map[string][]string{ // the row's local and remote -> its statistics cells
		curl.Local.String() + " " + curl.Remote.String():         statsCells(&curl),
		tw.Local.String() + " " + tw.Remote.String():             {"-", "-", "-", "-", "-"},
		nginxEst.Local.String() + " " + nginxEst.Remote.String(): statsCells(&nginxEst),
	}
	assert.Equal(t, []string{"4.9K", "1.5K", "0.052ms", "0", "10"}, statsCells(&curl), "curl's counters are shown as the table shows them")
	names := []string{"STATE", "LOCAL", "REMOTE", "PID", "SENT", "RECEIVED", "RTT", "RETRANS", "CWND", "PROCESS"}
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		require.Len(t, f, len(names)+2, l)
		cells, ok := want[f[3]+" "+f[4]]
		require.True(t, ok, "an event of an unexpected row: %s", l)
		assert.Equal(t, cells, f[6:11], l)
		for _, name := range names {
			col := strings.Index(header, name)
			assert.NotEqual(t, byte(' '), l[col], "a cell starts under %s:\n%s\n%s", name, header, l)
			assert.Equal(t, byte(' '), l[col-1], "the cell before %s ends before it:\n%s\n%s", name, header, l)
		}
	}

	lines = run("--watch=10ms", "--poll")
	require.Len(t, lines, 4)
	assert.Regexp(t, `^TIME +EVENT +STATE +LOCAL +REMOTE +PID +PROCESS$`, lines[0], "no statistics without -i")
	assert.Len(t, strings.Fields(lines[1]), 7, lines[1])
}
