package linux

import (
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"
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
// nsFD. The thread is locked to a fresh goroutine for the duration and
// returned to its original namespace before it is unlocked; if it cannot
// be returned, it stays locked and the runtime discards it when the
// goroutine ends. The caller's own thread never moves.
func inNetNS(nsFD int, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("open own network namespace: %w", err)
			return
		}
		defer unix.Close(orig)
		if err := unix.Setns(nsFD, unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("enter network namespace: %w", err)
			return
		}
		ferr := fn()
		if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
			// Keep the thread locked: it ends with this goroutine.
			errc <- fmt.Errorf("leave network namespace: %w", err)
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}
