package main

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/providers/mock"
)

// TestWatchColumnsAlign: --watch prints a header, and every event's cells
// start under the header's column names, also where the baseline holds
// endpoints, PID lists and namespace names wider than the least widths
// (the column widths follow the baseline, as the table's follow its rows).
// -H leaves the header out.
func TestWatchColumnsAlign(t *testing.T) {
	ap := netip.MustParseAddrPort
	web := tcptable.Module{Name: "web"}
	listener := tcptable.Connection{State: tcptable.StateListen, Local: ap("[2001:db8:1234:5678:9abc:def0:1234:5678]:8443"),
		Remote: ap("[::]:0"), PID: 4242, OtherPIDs: []uint32{4243, 4244, 4245}, Module: web, Socket: 1,
		NetNS: 4026532417, NetNSName: "a-long-namespace-name"}
	conn := tcptable.Connection{State: tcptable.StateEstablished, Local: listener.Local,
		Remote: ap("[2001:db8:1234:5678:9abc:def0:1234:9999]:5000"), PID: 4243, Module: web, Socket: 2,
		NetNS: 4026532417, NetNSName: "a-long-namespace-name"}
	edits := func() []func(*mock.Provider) {
		return []func(*mock.Provider){
			func(p *mock.Provider) { p.Set(listener) }, // the baseline
			func(p *mock.Provider) { p.Add(conn) },
			func(p *mock.Provider) { p.SetState(conn.Key(), tcptable.StateCloseWait) },
			func(p *mock.Provider) { p.Update(listener.Key(), func(c *tcptable.Connection) { c.OtherPIDs = nil }) },
		}
	}
	for _, args := range [][]string{{"--watch=10ms", "--poll"}, {"--watch=10ms", "--poll", "--all-netns"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			p := &steered{Provider: mock.New(), edits: edits(), cancel: cancel}
			a, stdout, stderr := testApp(p)
			if len(args) > 2 {
				var ns nsOptions
				a, stdout, stderr = nsApp(p, &ns)
			}
			require.Equal(t, exitOK, a.run(ctx, args), stderr.String())
			lines := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
			require.Len(t, lines, 4, "the header and three events:\n%s", stdout)
			header := lines[0]
			names := []string{"TIME", "EVENT", "STATE", "LOCAL", "REMOTE", "PID", "PROCESS"}
			if len(args) > 2 {
				names = append(names, "NETNS")
			}
			for _, name := range names {
				col := strings.Index(header, name)
				require.GreaterOrEqual(t, col, 0, "%s in the header %q", name, header)
				for _, l := range lines[1:] {
					require.Greater(t, len(l), col, l)
					assert.NotEqual(t, byte(' '), l[col], "a cell starts under %s:\n%s\n%s", name, header, l)
					if col > 0 {
						assert.Equal(t, byte(' '), l[col-1], "the cell before %s ends before it:\n%s\n%s", name, header, l)
					}
				}
			}
		})
	}

	p := &steered{Provider: mock.New(), edits: edits()}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p.cancel = cancel
	a, stdout, _ := testApp(p)
	require.Equal(t, exitOK, a.run(ctx, []string{"--watch=10ms", "--poll", "-H"}))
	assert.NotContains(t, stdout.String(), "PROCESS", "-H: no header")
	assert.Equal(t, 3, strings.Count(stdout.String(), "\n"))
}
