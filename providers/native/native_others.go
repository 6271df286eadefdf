//go:build !linux && !windows && !darwin && !freebsd && !openbsd && !netbsd && !aix

package native

// candidates: none; gopsutil cannot list TCP connections here either.
func candidates() []candidate { return nil }
