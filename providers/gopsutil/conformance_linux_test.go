package gopsutil_test

import "github.com/tcptable/tcptable/conformance"

// platformGaps: gopsutil keeps one holder per socket (the first process
// whose /proc/PID/fd it finds holding it), so a listener a child shares
// lists one owner only; docs/platforms.md says so.
func platformGaps() []conformance.Option {
	return []conformance.Option{
		conformance.DeclareGap(conformance.NoOtherPIDs, "gopsutil keeps one holder per socket (no OtherPIDs)"),
	}
}
