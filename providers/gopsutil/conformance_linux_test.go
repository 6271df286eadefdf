package gopsutil_test

import "github.com/tcptable/tcptable/conformance"

// platformGaps: none the suite checks. gopsutil keeps one holder per socket
// (no OtherPIDs), which the suite does not test; docs/platforms.md says so.
func platformGaps() []conformance.Option { return nil }
