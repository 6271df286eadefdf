package main

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPollInterval: "--watch --poll 2s" polls every 2s (the interval may
// follow --poll, as it may follow --watch); an interval given to both is
// refused, as is --poll without --watch.
func TestPollInterval(t *testing.T) {
	for _, tt := range []struct {
		args  string
		watch time.Duration
	}{
		{"--watch --poll", time.Second},
		{"--watch --poll 2s", 2 * time.Second},
		{"--watch --poll=500ms", 500 * time.Millisecond},
		{"--poll 2 --watch", 2 * time.Second},
		{"--watch 3s --poll", 3 * time.Second},
		{"--watch --poll -l", time.Second},
	} {
		t.Run(tt.args, func(t *testing.T) {
			o, err := parseArgs(strings.Fields(tt.args))
			require.NoError(t, err)
			assert.True(t, o.poll)
			assert.Equal(t, tt.watch, o.watch)
		})
	}
	for _, tt := range []struct{ args, want string }{
		{"--watch 1s --poll 2s", "the interval is given twice (--watch 1s, --poll 2s): give it once, as --watch 2s --poll"},
		{"--poll 2s", "--poll says how --watch follows changes: add --watch"},
		{"--poll", "--poll says how --watch follows changes: add --watch"},
		{"--watch --poll 1ns", `bad --poll interval "1ns"`},
		{"--watch --poll 2s --poll", "--poll given twice"},
	} {
		t.Run(tt.args, func(t *testing.T) { runUsage(t, strings.Fields(tt.args), tt.want) })
	}
}

// TestSummaryContradictions: -s prints counts, so -i and --sort, which
// are about rows, are refused instead of being ignored.
func TestSummaryContradictions(t *testing.T) {
	for _, tt := range []struct{ args, want string }{
		{"-s -i", "--summary prints counts by state: -i (per-connection statistics) does not apply"},
		{"-si", "-i (per-connection statistics) does not apply"},
		{"--summary --info --json", "-i (per-connection statistics) does not apply"},
		{"-s --watch -i", "-i (per-connection statistics) does not apply"},
		{"-s --sort pid", "--summary prints counts by state: --sort orders rows and does not apply"},
		{"-s --sort stats_bytes_sent", "--sort orders rows and does not apply"},
	} {
		t.Run(tt.args, func(t *testing.T) { runUsage(t, strings.Fields(tt.args), tt.want) })
	}
}
