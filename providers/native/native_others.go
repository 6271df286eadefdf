//go:build !linux && !windows && (!darwin || ios) && !freebsd && !openbsd && !netbsd && !aix

package native

// candidates: none; gopsutil cannot list TCP connections here either (on
// iOS it needs cgo and lsof, which iOS lacks).
func candidates() []candidate { return nil }
