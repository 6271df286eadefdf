//go:build !plan9

package gopsutil

import (
	"errors"
	"syscall"
)

// isESRCH reports whether err is ESRCH: Linux returns it for a /proc/PID
// entry whose process has just been reaped.
func isESRCH(err error) bool { return errors.Is(err, syscall.ESRCH) }
