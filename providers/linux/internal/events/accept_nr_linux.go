//go:build linux && !386 && !s390x

package events

import "golang.org/x/sys/unix"

// acceptNR is this architecture's system call number of accept.
const acceptNR int64 = unix.SYS_ACCEPT
