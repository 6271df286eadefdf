//go:build linux || windows

package gopsutil_test

import (
	"testing"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/conformance"
	"github.com/tcptable/tcptable/providers/gopsutil"
)

// TestConformance runs the suite against gopsutil on the real OS: on Linux
// /proc/net/tcp{,6} and /proc/PID/fd, on Windows (or Wine)
// GetExtendedTcpTable(TCP_TABLE_OWNER_PID_ALL). It proves the mapping end
// to end. On macOS and the BSDs the same test needs lsof's or netstat's
// gaps (no TIME-WAIT rows, no owners), which the suite cannot yet express.
func TestConformance(t *testing.T) {
	conformance.Run(t, func(t *testing.T) (tcptable.Provider, conformance.Env) {
		p, err := gopsutil.New()
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		return p, conformance.OSEnv()
	}, append(platformGaps(),
		conformance.DeclareGap(conformance.NoDualStack, "gopsutil does not say whether an IPv6 socket has IPV6_V6ONLY"),
		conformance.DeclareGap(conformance.NoStats, "gopsutil reads no per-connection counters"))...)
}
