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
