package linux

import (
	"math"

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
}

// dropped marks an entry whose descriptor was closed while being read.
const dropped = -1

// lookup finds what descriptor link cname (relative to dfd) is, for entry
// (*next)[i]: at once without a ring, else queued until flush.
func (sc *scanner) lookup(dfd int, cname *byte, i int, next []fdSock) {
	if !sc.noRing && sc.ring == nil {
		r, err := newStatRing()
		if err != nil {
			sc.noRing = true
		} else {
			sc.ring = r
		}
	}
	if sc.noRing {
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
		// The ring failed: keep it (requests may still be in flight) but
		// stop using it.
		sc.noRing = true
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
		s.fd = dropped // closed meanwhile: not recorded, so read again next time
	case isSock && ino <= math.MaxUint32:
		s.ino = uint32(ino)
	default:
		s.ino = 0
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
	if sc.ring != nil {
		sc.ring.close()
		sc.ring = nil
	}
}
