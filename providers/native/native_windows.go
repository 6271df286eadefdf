//go:build windows

package native

import (
	"github.com/tcptable/tcptable/providers/gopsutil"
	"github.com/tcptable/tcptable/providers/windows"
)

// candidates: GetExtendedTcpTable with owner modules, then gopsutil (which
// reads the same table with owner PIDs only).
func candidates() []candidate {
	return []candidate{
		candidateOf("windows", func() (*windows.Provider, error) { return windows.New() }),
		candidateOf("gopsutil", func() (*gopsutil.Provider, error) { return gopsutil.New() }),
	}
}
