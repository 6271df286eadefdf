//go:build (darwin && !ios) || freebsd || openbsd || netbsd || aix

package native

import "github.com/tcptable/tcptable/providers/gopsutil"

// candidates: gopsutil, which runs lsof (darwin, freebsd) or netstat
// (openbsd, netbsd, aix).
func candidates() []candidate {
	return []candidate{
		candidateOf("gopsutil", func() (*gopsutil.Provider, error) { return gopsutil.New() }),
	}
}
