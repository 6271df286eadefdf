package owners

import (
	"errors"
	"unsafe"

	"golang.org/x/sys/unix"
)

// dirReader lists a directory with getdents64 into a reused buffer.
type dirReader struct {
	buf []byte
}

// direntBufLen is the getdents64 buffer size: large enough that a process
// with 20,000 descriptors is listed in a few dozen system calls.
const direntBufLen = 32 << 10

// list calls fn for each entry of the open directory fd, with the name and
// a pointer to its NUL-terminated bytes (valid until the next chunk is
// read), until fn returns false. end, if not nil, is called after each
// chunk, while those names are still valid.
func (d *dirReader) list(fd int, fn func(name []byte, cname *byte) bool, end func()) error {
	if d.buf == nil {
		d.buf = make([]byte, direntBufLen)
	}
	for {
		n, err := unix.Getdents(fd, d.buf)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return err
		}
		if n <= 0 {
			return nil
		}
		b := d.buf[:n]
		stopped := false
		err = parseDirents(b, func(name []byte, off int) {
			stopped = stopped || !fn(name, &b[off])
		})
		if end != nil {
			end()
		}
		if err != nil || stopped {
			return err
		}
	}
}

// readlinkat reads the link cname (a NUL-terminated name) relative to
// dirfd into buf without allocating.
func readlinkat(dirfd int, cname *byte, buf []byte) (int, error) {
	for {
		n, _, e := unix.Syscall6(unix.SYS_READLINKAT, uintptr(dirfd), uintptr(unsafe.Pointer(cname)),
			uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), 0, 0)
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return 0, e
		}
		return int(n), nil
	}
}

// readSmall reads at most len(buf) bytes of a small file (a /proc/PID/stat
// or comm) relative to dirfd.
func readSmall(dirfd int, name string, buf []byte) ([]byte, error) {
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	n, err := unix.Read(fd, buf)
	if err != nil {
		return nil, err
	}
	return buf[:n], nil
}

// openDir opens a directory relative to dirfd for listing.
func openDir(dirfd int, name string) (int, error) {
	return unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
}

// socketInode stats the descriptor link cname (NUL-terminated) relative to
// dirfd, following it, and returns the socket's inode; ok is false if the
// descriptor is not a socket. Stat skips the "socket:[N]" formatting that
// readlink costs.
func socketInode(dirfd int, cname *byte) (ino uint64, ok bool, err error) {
	var st unix.Stat_t
	for {
		_, _, e := unix.Syscall6(sysFstatat, uintptr(dirfd), uintptr(unsafe.Pointer(cname)),
			uintptr(unsafe.Pointer(&st)), 0, 0, 0)
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return 0, false, e
		}
		return st.Ino, st.Mode&unix.S_IFMT == unix.S_IFSOCK, nil
	}
}
