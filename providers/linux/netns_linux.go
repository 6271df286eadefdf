package linux

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/tcptable/tcptable/internal/setns"
)

// openNetNS opens a network namespace file and returns its descriptor and
// inode (the namespace's identity, as /proc/PID/ns/net links show it).
func openNetNS(path string) (fd int, ino uint64, err error) {
	fd, err = unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, 0, fmt.Errorf("open network namespace %s: %w", path, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, 0, fmt.Errorf("stat network namespace %s: %w", path, err)
	}
	return fd, st.Ino, nil
}

// selfNetNS returns the inode of the calling thread's network namespace.
func selfNetNS() (uint64, error) {
	var st unix.Stat_t
	if err := unix.Stat("/proc/thread-self/ns/net", &st); err != nil {
		if err := unix.Stat("/proc/self/ns/net", &st); err != nil {
			return 0, fmt.Errorf("stat own network namespace: %w", err)
		}
	}
	return st.Ino, nil
}

// inNetNS runs fn on an OS thread that has joined the network namespace
// nsFD (see setns.Run). The caller's own thread never moves.
func inNetNS(nsFD int, fn func() error) error { return setns.Run(nsFD, fn) }
