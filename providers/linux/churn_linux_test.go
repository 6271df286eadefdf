package linux_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/providers/linux"
)

// churnPolls is how many polls TestForkChurnOwnersStable makes per scan.
const churnPolls = 1000

// TestForkChurnOwnersStable polls a listener whose process forks and execs
// "true" without pause: each child holds the close-on-exec listener from
// its fork to its exec, a few hundred microseconds. Those children are not
// reported as owners (see docs/linux.md, "Processes between fork and
// exec"), so no poll shows an owner change; before, 185-490 of 1,000
// polls listed one and Diff saw 169-372 owner changes.
func TestForkChurnOwnersStable(t *testing.T) {
	for _, scan := range []linux.OwnerScan{linux.OwnerScanBPF, linux.OwnerScanProcfs} {
		t.Run(scan.String(), func(t *testing.T) {
			p := newScanOrSkip(t, scan)
			churner, _, line := startRole(t, roleForkChurn)
			f := strings.Fields(line)
			require.True(t, len(f) == 2 && f[0] == "READY", "churner said %q", line)
			port, err := strconv.ParseUint(f[1], 10, 16)
			require.NoError(t, err)

			q := tcptable.Query{Class: tcptable.ClassListeners, LocalPort: uint16(port)}
			pid := uint32(churner.Process.Pid)
			var prev []tcptable.Connection
			changed, extra := 0, 0
			for i := range churnPolls {
				rows, err := p.Table(context.Background(), q)
				require.NoError(t, err)
				require.Len(t, rows, 1)
				require.Equal(t, pid, rows[0].PID, "poll %d", i)
				if len(rows[0].OtherPIDs) > 0 {
					extra++
				}
				for _, ev := range tcptable.Diff(prev, rows) {
					if ev.Kind == tcptable.EventOwnerChanged {
						changed++
					}
				}
				prev = rows
			}
			t.Logf("%s scan: %d of %d polls listed a child between fork and exec; %d owner changes", scan, extra, churnPolls, changed)
			assert.Zero(t, extra, "polls that listed a child between fork and exec")
			assert.Zero(t, changed, "owner-changed events on a listener whose owner never changed")
		})
	}
}
