package events

import "golang.org/x/sys/unix"

// accept4NR is this architecture's system call number of accept4 (every
// Linux architecture has one); acceptNR, in accept_nr_*linux.go, is
// accept's, or -1 where the call does not exist.
const accept4NR int64 = unix.SYS_ACCEPT4
