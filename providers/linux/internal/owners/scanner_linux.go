package owners

import (
	"errors"
	"math"
	"strconv"

	"golang.org/x/sys/unix"
)

// scanner holds one worker's buffers and, where io_uring works, its ring.
type scanner struct {
	dr     dirReader
	link   [64]byte
	ring   *statRing
	noRing bool    // io_uring unavailable or failed: stat one link at a time
	names  []*byte // links queued for the ring (valid until the next getdents)
	slots  []int   // their entries' indices in the list being built
	nums   []byte  // NUL-terminated descriptor numbers for probe
	broken bool    // the ring failed: kept mapped, never used again
	denied bool    // a descriptor could not be inspected (EACCES, EPERM) since scan reset it
}

// dropped marks an entry whose descriptor was closed while being read.
const dropped = -1

// ready sets up the ring if not tried yet, and reports whether there is
// one.
func (sc *scanner) ready() bool {
	if !sc.noRing && sc.ring == nil {
		r, err := newStatRing()
		if err != nil {
			sc.noRing = true
		} else {
			sc.ring = r
		}
	}
	return !sc.noRing
}

// lookup finds what descriptor link cname (relative to dfd) is, for entry
// (*next)[i]: at once without a ring, else queued until flush.
func (sc *scanner) lookup(dfd int, cname *byte, i int, next []fdSock) {
	if !sc.ready() {
		sc.direct(&next[i], dfd, cname)
		return
	}
	sc.names = append(sc.names, cname)
	sc.slots = append(sc.slots, i)
	if len(sc.names) == sc.ring.entries {
		sc.flush(dfd, next)
	}
}

// flush stats the queued links and records the results in next.
func (sc *scanner) flush(dfd int, next []fdSock) {
	if len(sc.names) == 0 {
		return
	}
	res, err := sc.ring.stat(dfd, sc.names)
	if err != nil {
		// The ring failed: stop using it, and never unmap it (requests
		// may still be in flight, writing to its buffers).
		sc.noRing, sc.broken = true, true
		for k, cname := range sc.names {
			sc.direct(&next[sc.slots[k]], dfd, cname)
		}
	} else {
		for k, r := range res {
			s := &next[sc.slots[k]]
			if r.errno == unix.ENOENT {
				sc.direct(s, dfd, sc.names[k])
				continue
			}
			var err error
			if r.errno != 0 {
				err = r.errno
			}
			sc.set(s, r.ino, r.isSock, err)
		}
	}
	sc.names, sc.slots = sc.names[:0], sc.slots[:0]
}

// direct looks cname up with one system call (two for a procfs copy).
func (sc *scanner) direct(s *fdSock, dfd int, cname *byte) {
	ino, isSock, err := fdSocket(dfd, cname, sc.link[:])
	sc.set(s, ino, isSock, err)
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

func (sc *scanner) close() {
	if sc.ring != nil && !sc.broken {
		sc.ring.close()
		sc.ring = nil
	}
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
// chooses, without listing the directory: it stats the numbers 0, 1, 2, ...
// in ring batches until count of them exist (count is what the directory's
// size reported) or misses exceed an eighth of count (a sparse table). It
// returns the entries appended to next and the first number not probed;
// the caller lists the directory from there (its offset is the number
// plus 2), so a descriptor that exists throughout is seen whatever opens
// and closes meanwhile. Listing costs about a fifth of a stat per
// descriptor, a missing number a stat, so this pays off for the dense
// tables of busy servers. ok is false if the ring failed: nothing was
// probed.
func (sc *scanner) probe(dfd, count int, next []fdSock) (out []fdSock, from int, ok bool) {
	if sc.ring == nil {
		return next, 0, false
	}
	if sc.nums == nil {
		sc.nums = make([]byte, sc.ring.entries*12)
	}
	start := len(next)
	found, misses, fd := 0, 0, 0
	for found < count && misses <= count/8+64 && fd <= math.MaxInt32-2-sc.ring.entries {
		sc.names, sc.slots = sc.names[:0], sc.slots[:0]
		b := sc.nums[:0]
		for range sc.ring.entries {
			off := len(b)
			b = strconv.AppendInt(b, int64(fd), 10)
			b = append(b, 0)
			sc.names = append(sc.names, &sc.nums[off])
			sc.slots = append(sc.slots, len(next))
			next = append(next, fdSock{fd: int32(fd)})
			fd++
		}
		res, err := sc.ring.stat(dfd, sc.names)
		if err != nil {
			sc.noRing, sc.broken = true, true
			sc.names, sc.slots = sc.names[:0], sc.slots[:0]
			return next[:start], 0, false
		}
		for k, r := range res {
			s := &next[sc.slots[k]]
			switch {
			case r.errno != 0:
				sc.noteDenied(r.errno)
				s.fd = dropped
				misses++
			case r.isSock && r.ino <= math.MaxUint32:
				s.ino = uint32(r.ino)
				found++
			default:
				found++
			}
		}
	}
	sc.names, sc.slots = sc.names[:0], sc.slots[:0]
	return compact(next), fd, true
}
