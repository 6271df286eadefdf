package gopsutil_test

import (
	"golang.org/x/sys/windows"

	"github.com/tcptable/tcptable/conformance"
)

// platformGaps: none on Windows; under Wine 8, whose table attributes only
// IPv4 sockets whose descriptor the calling process created by dialing,
// the ones docs/windows.md lists.
func platformGaps() []conformance.Option {
	if windows.NewLazySystemDLL("ntdll.dll").NewProc("wine_get_version").Find() != nil {
		return nil
	}
	const why = "Wine 8's GetExtendedTcpTable reports PID 0 for "
	return []conformance.Option{
		conformance.DeclareGap(conformance.NoListenerPID, why+"listeners"),
		conformance.DeclareGap(conformance.NoAcceptedPID, why+"accepted sockets"),
		conformance.DeclareGap(conformance.NoIPv6PID, why+"every IPv6 row"),
	}
}
