package owners

import (
	"errors"
	"math"
	"strconv"

	"golang.org/x/sys/unix"
)

// scanner holds one worker's buffers.
type scanner struct {
	dr     dirReader
	link   [64]byte
	num    [12]byte // a NUL-terminated descriptor number for probe
	denied bool     // a descriptor could not be inspected (EACCES, EPERM) since scan reset it
}

// dropped marks an entry whose descriptor was closed while being read.
const dropped = -1

// lookup finds what descriptor link cname (relative to dfd) is and records
// it in s.
func (sc *scanner) lookup(dfd int, cname *byte, s *fdSock) {
	ino, isSock, err := fdSocket(dfd, cname, sc.link[:])
	sc.set(s, ino, isSock, err)
}

// fdSocket returns the socket inode that the descriptor link cname
// (relative to dfd, NUL-terminated) refers to, if it is a socket, by
// reading the link: "socket:[N]". Reading a /proc/PID/fd/N link formats
// the file's name from the kernel's dentries and never calls into the
// file's file system, while a stat that follows the link does (a FUSE
// server that stops answering, a hard NFS mount whose server is gone, would
// block the scan in uninterruptible sleep for as long as they stay so).
// It costs about as much as such a stat (BenchmarkLookup).
func fdSocket(dfd int, cname *byte, buf []byte) (ino uint64, isSock bool, err error) {
	n, err := readlinkat(dfd, cname, buf)
	if err != nil {
		return 0, false, err
	}
	ino, isSock = parseInodeLink(buf[:n], "socket:")
	return ino, isSock, nil
}

// set records a lookup's outcome in s: the socket inode, 0 for another
// kind of file, or dropped if the descriptor could not be read.
func (sc *scanner) set(s *fdSock, ino uint64, isSock bool, err error) {
	switch {
	case err != nil:
		sc.noteDenied(err)
		s.fd = dropped // closed meanwhile or not inspectable: not recorded, so read again next time
	case isSock && ino <= math.MaxUint32:
		s.ino = uint32(ino)
	default:
		s.ino = 0
	}
}

// noteDenied remembers that a descriptor of the process being scanned could
// not be inspected: its owner may hold a socket nobody can attribute, which
// makes such sockets "permission denied" rather than "not found". This
// happens to root too, for processes it may not ptrace (a sandbox's init).
func (sc *scanner) noteDenied(err error) {
	if errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM) {
		sc.denied = true
	}
}

// compact removes the dropped entries.
func compact(fds []fdSock) []fdSock {
	out := fds[:0]
	for _, f := range fds {
		if f.fd != dropped {
			out = append(out, f)
		}
	}
	return out
}

// procSuperMagic is procfs's f_type (statfs(2)).
const procSuperMagic = 0x9fa0

// probeMin is the smallest descriptor count for which a process is read
// by probing numbers rather than listing its fd directory.
const probeMin = 512

// openFDs returns the number of open descriptors of the process whose
// /proc/PID/fd is open as dfd, as the kernel reports it in the directory's
// size (Linux 6.2 and later, real procfs only); ok is false otherwise.
func openFDs(dfd int) (n int, ok bool) {
	var fs unix.Statfs_t
	if unix.Fstatfs(dfd, &fs) != nil || fs.Type != procSuperMagic {
		return 0, false
	}
	var st unix.Stat_t
	if unix.Fstat(dfd, &st) != nil || st.Size <= 0 || st.Size > math.MaxInt32 {
		return 0, false
	}
	return int(st.Size), true
}

// probe reads the descriptors behind dfd numbered below a bound it
// chooses, without listing the directory: it reads the links 0, 1, 2, ...
// until count of them exist (count is what the directory's size reported)
// or misses exceed an eighth of count (a sparse table). It returns the
// entries appended to next and the first number not probed; the caller
// lists the directory from there (its offset is the number plus 2), so a
// descriptor that exists throughout is seen whatever opens and closes
// meanwhile.
func (sc *scanner) probe(dfd, count int, next []fdSock) (out []fdSock, from int) {
	found, misses, fd := 0, 0, 0
	for found < count && misses <= count/8+64 && fd < math.MaxInt32-2 {
		b := strconv.AppendInt(sc.num[:0], int64(fd), 10)
		b = append(b, 0)
		next = append(next, fdSock{fd: int32(fd)})
		s := &next[len(next)-1]
		sc.lookup(dfd, &b[0], s)
		if s.fd == dropped {
			misses++
		} else {
			found++
		}
		fd++
	}
	return compact(next), fd
}
