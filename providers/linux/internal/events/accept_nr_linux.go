//go:build linux && !386 && !s390x

package events

import "golang.org/x/sys/unix"

const sysAccept = int64(unix.SYS_ACCEPT)
