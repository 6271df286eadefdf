//go:build plan9

package gopsutil

// isESRCH reports false: Plan 9 has no ESRCH.
func isESRCH(error) bool { return false }
