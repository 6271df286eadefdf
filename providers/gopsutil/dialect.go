package gopsutil

// dialect describes what gopsutil's net.Connections reports on one OS: the
// address-family numbers in ConnectionStat.Family, the exact state strings
// in ConnectionStat.Status (with the OS's own code for each, which becomes
// Connection.OSState), and whether rows carry owning PIDs.
//
// The tables are written from gopsutil v4.26.10's sources: net_linux.go
// (tcpStatuses over /proc/net/tcp), net_unix.go (lsof -i tcp on darwin and
// freebsd, whose states are the kernel's tcpstates[] names),
// net_openbsd.go, net_netbsd.go and net_aix.go (netstat -na, the same BSD
// names) and net_windows.go (tcpStatuses over GetExtendedTcpTable).
type dialect struct {
	// goos is the GOOS value this dialect describes.
	goos string
	// afInet and afInet6 are the OS's AF_INET and AF_INET6.
	afInet, afInet6 uint32
	// states maps every state string gopsutil emits on this OS to the OS's
	// own state code.
	states map[string]uint32
	// owners reports whether gopsutil fills ConnectionStat.Pid on this OS.
	owners bool
	// pidFilter reports whether gopsutil's ConnectionsPid variants work on
	// this OS (and read less than the whole table).
	pidFilter bool
	// tool names the external program gopsutil runs, if any.
	tool string
}

// linuxStates: net_linux.go tcpStatuses, keyed by the kernel's TCP_* codes
// (include/net/tcp_states.h).
func linuxStates() map[string]uint32 {
	return map[string]uint32{
		"ESTABLISHED": 1, "SYN_SENT": 2, "SYN_RECV": 3, "FIN_WAIT1": 4,
		"FIN_WAIT2": 5, "TIME_WAIT": 6, "CLOSE": 7, "CLOSE_WAIT": 8,
		"LAST_ACK": 9, "LISTEN": 10, "CLOSING": 11,
	}
}

// bsdStates: the tcpstates[] names of 4.4BSD's netinet/tcp_fsm.h, which lsof
// (darwin, freebsd) and netstat (openbsd, netbsd, aix) print, keyed by the
// TCPS_* codes. TCPS_CLOSED is 0, so OSState cannot tell CLOSED from "no
// code" on these systems.
func bsdStates() map[string]uint32 {
	return map[string]uint32{
		"CLOSED": 0, "LISTEN": 1, "SYN_SENT": 2, "SYN_RCVD": 3,
		"ESTABLISHED": 4, "CLOSE_WAIT": 5, "FIN_WAIT_1": 6, "CLOSING": 7,
		"LAST_ACK": 8, "FIN_WAIT_2": 9, "TIME_WAIT": 10,
	}
}

// windowsStates: net_windows.go tcpStatuses, keyed by MIB_TCP_STATE.
func windowsStates() map[string]uint32 {
	return map[string]uint32{
		"CLOSED": 1, "LISTEN": 2, "SYN_SENT": 3, "SYN_RECEIVED": 4,
		"ESTABLISHED": 5, "FIN_WAIT_1": 6, "FIN_WAIT_2": 7, "CLOSE_WAIT": 8,
		"CLOSING": 9, "LAST_ACK": 10, "TIME_WAIT": 11, "DELETE": 12,
	}
}

// dialectFor returns the dialect of goos, or false when gopsutil v4.26.10
// cannot list TCP connections there (solaris, illumos, dragonfly, plan9,
// js, wasip1, ...: its net.Connections returns "not implemented yet").
func dialectFor(goos string) (dialect, bool) {
	switch goos {
	case "linux":
		return dialect{goos: goos, afInet: 2, afInet6: 10, states: linuxStates(), owners: true, pidFilter: true}, true
	case "windows":
		return dialect{goos: goos, afInet: 2, afInet6: 23, states: windowsStates(), owners: true, pidFilter: true}, true
	case "darwin":
		return dialect{goos: goos, afInet: 2, afInet6: 30, states: bsdStates(), owners: true, pidFilter: true, tool: "lsof"}, true
	case "freebsd":
		return dialect{goos: goos, afInet: 2, afInet6: 28, states: bsdStates(), owners: true, pidFilter: true, tool: "lsof"}, true
	case "openbsd", "netbsd":
		return dialect{goos: goos, afInet: 2, afInet6: 24, states: bsdStates(), tool: "netstat"}, true
	case "aix":
		return dialect{goos: goos, afInet: 2, afInet6: 24, states: bsdStates(), tool: "netstat"}, true
	}
	return dialect{}, false
}

// supportedOSes lists, for tests and documentation, every GOOS dialectFor knows.
func supportedOSes() []string {
	return []string{"linux", "windows", "darwin", "freebsd", "openbsd", "netbsd", "aix"}
}
