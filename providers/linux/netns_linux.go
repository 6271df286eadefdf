package linux

import (
	"errors"
	"fmt"
	"io/fs"

	"golang.org/x/sys/unix"

	"github.com/tcptable/tcptable/internal/setns"
)

// openNetNS opens a network namespace file and returns its descriptor and
// inode (the namespace's identity, as /proc/PID/ns/net links show it). It
// opens without blocking (a FIFO at path does not hang it) and checks that
// the file is a network namespace (checkNetNS). Errors are *fs.PathError
// values (Op "open network namespace"), so that a caller can tell the
// path from the reason: the errno of a failed open (fs.ErrNotExist,
// fs.ErrPermission), or an error wrapping tcptable.ErrInvalid that says
// what the file is instead.
func openNetNS(path string) (fd int, ino uint64, err error) {
	const op = "open network namespace"
	fd, err = unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return -1, 0, &fs.PathError{Op: op, Path: path, Err: err}
	}
	if err := checkNetNS(fd); err != nil {
		unix.Close(fd)
		return -1, 0, &fs.PathError{Op: op, Path: path, Err: err}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, 0, &fs.PathError{Op: "stat network namespace", Path: path, Err: err}
	}
	return fd, st.Ino, nil
}

// checkNetNS returns an error wrapping tcptable.ErrInvalid unless fd is a
// network namespace: a file of the namespace file system (nsfs, which
// /proc/PID/ns/* and the bind mounts under /run/netns are) of type
// CLONE_NEWNET (NS_GET_NSTYPE, Linux 4.11+; an older kernel that does not
// know the ioctl leaves the type to setns to check).
func checkNetNS(fd int) error {
	var sfs unix.Statfs_t
	if err := unix.Fstatfs(fd, &sfs); err != nil {
		return fmt.Errorf("statfs: %w", err)
	}
	if sfs.Type != unix.NSFS_MAGIC {
		var st unix.Stat_t
		kind := "a file that cannot be stat-ed"
		if unix.Fstat(fd, &st) == nil {
			kind = fileKind(st.Mode)
		}
		return notNetNSError{kind}
	}
	typ, err := unix.IoctlRetInt(fd, unix.NS_GET_NSTYPE)
	if err != nil || typ == unix.CLONE_NEWNET {
		return nil
	}
	return notNetNSError{"a " + nsTypeName(typ) + " namespace"}
}

// enterable checks, by entering it once, that the caller may enter the
// namespace nsFD (setns needs CAP_SYS_ADMIN): New says so at once, rather
// than each call failing later, or a refused sock_diag socket there passing
// for a kernel without sock_diag. The error is an *fs.PathError (Op "enter
// network namespace") wrapping the errno: EPERM is fs.ErrPermission, as
// tcptable.ErrPermission.
func enterable(nsFD int, path string) error {
	err := inNetNS(nsFD, func() error { return nil })
	if err == nil {
		return nil
	}
	var errno unix.Errno
	if errors.As(err, &errno) {
		err = errno
	}
	if errno == unix.EPERM {
		err = fmt.Errorf("%w (entering another network namespace needs CAP_SYS_ADMIN: run as root)", errno)
	}
	return &fs.PathError{Op: "enter network namespace", Path: path, Err: err}
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
