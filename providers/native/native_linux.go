//go:build linux

package native

import (
	"github.com/tcptable/tcptable/providers/gopsutil"
	"github.com/tcptable/tcptable/providers/linux"
)

// candidates: netlink sock_diag (with its own /proc/net fallback), then
// gopsutil.
func candidates() []candidate {
	return []candidate{
		candidateOf("linux", func() (*linux.Provider, error) { return linux.New() }),
		candidateOf("gopsutil", func() (*gopsutil.Provider, error) { return gopsutil.New() }),
	}
}
