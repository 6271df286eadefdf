package events

import "golang.org/x/sys/unix"

// acceptNR and accept4NR are this architecture's system call numbers of
// accept and accept4 (-1 where the call does not exist: 32-bit x86 has
// only socketcall).
var acceptNR, accept4NR = sysAccept, int64(unix.SYS_ACCEPT4)
