package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/providers/mock"
)

// TestOneShotProvider: a command that reads the table once, or kills,
// gets its provider from newOneShotProvider (on Linux: without the birth
// time recorder), and --netns passes oneShot on; --watch, --top and serve,
// which run on, get newProvider's, with birth times.
func TestOneShotProvider(t *testing.T) {
	for args, oneShot := range map[string]bool{
		"-l":                         true,
		"--json --port 1":            true,
		"kill --port 1 --dry-run":    true,
		"--watch 10ms --poll":        false,
		"--top 10ms":                 false,
		"serve --listen 127.0.0.1:0": false,
		"--netns blue -l":            true,
		"--all-netns --json":         true,
		"kill --netns blue --port 1": true,
		"--netns blue --watch 10ms":  false,
		"--all-netns --top 10ms":     false,
	} {
		t.Run(args, func(t *testing.T) {
			var got []string
			name := map[bool]string{true: "true", false: "false"}
			a, _, stderr := testApp(nil)
			a.newProvider = func() (tcptable.Provider, error) { got = append(got, "newProvider"); return mock.New(), nil }
			a.newOneShotProvider = func() (tcptable.Provider, error) { got = append(got, "oneShot"); return mock.New(), nil }
			a.newNSProvider = func(n nsOptions) (tcptable.Provider, error) {
				got = append(got, "ns oneShot="+name[n.oneShot])
				return mock.New(), nil
			}
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			a.run(ctx, strings.Fields(args))
			want := "newProvider"
			switch {
			case strings.Contains(args, "netns"):
				want = "ns oneShot=" + name[oneShot]
			case oneShot:
				want = "oneShot"
			}
			assert.Equal(t, []string{want}, got, "stderr: %s", stderr.String())
		})
	}
}
