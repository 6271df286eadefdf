package linux

import (
	"hash/maphash"
	"net/netip"

	"github.com/tcptable/tcptable"
)

// dedup drops rows a non-atomic kernel walk reported twice. Neither
// sock_diag nor /proc/net/tcp is a snapshot: both resume each chunk at a
// hash bucket and an index within it, so a socket inserted or removed
// meanwhile can shift a bucket and make a row come out again. A connected
// socket is identified by its address pair, which TCP keeps unique and
// which is its Key: the same connection can come out once without an
// inode and once with one (accepted while the walk went on: a socket in
// the accept queue has no inode until accept), or once as a request socket
// and once as the established socket that replaced it. An unconnected
// socket (a listener) is identified by its inode, or by its addresses when
// it has none. The later report wins: it is the more recent state.
type dedup struct {
	conn  map[uint64]int32            // connected sockets, by a hash of their address pair
	ino   map[uint32]int32            // unconnected sockets with an inode
	tuple map[[2]netip.AddrPort]int32 // the others, and connected sockets whose hash another pair took
	seed  maphash.Seed
	size  int // the connection map's initial size
}

func newDedup() *dedup {
	return &dedup{conn: map[uint64]int32{}, ino: map[uint32]int32{}, tuple: map[[2]netip.AddrPort]int32{}, seed: maphash.MakeSeed()}
}

// reset forgets every row, keeping the maps' memory; the connection map is
// made anew for hint sockets when it was made for fewer, so that a large
// dump does not grow it by doubling. (Keyed by a 64-bit hash, an entry
// costs a fifth of one keyed by the address pair: 20,000 connections
// took 5 MB more at the peak of a first poll so.)
func (d *dedup) reset(hint int) {
	if hint > d.size {
		d.conn, d.size = make(map[uint64]int32, hint), hint
	}
	clear(d.conn)
	clear(d.ino)
	clear(d.tuple)
}

// add appends c to rows, or overwrites the earlier row for the same socket.
// Indices of rows dropped since (a restarted dump truncates rows) are
// detected and ignored.
func (d *dedup) add(rows []tcptable.Connection, c *tcptable.Connection) []tcptable.Connection {
	n := int32(len(rows))
	switch {
	case c.Remote.Port() != 0:
		h := maphash.Comparable(d.seed, [2]netip.AddrPort{c.Local, c.Remote})
		i, ok := d.conn[h]
		switch {
		case !ok || int(i) >= len(rows):
			d.conn[h] = n
			return append(rows, *c)
		case rows[i].Local == c.Local && rows[i].Remote == c.Remote:
			rows[i] = *c
			return rows
		}
		// Another pair has this hash (or had, before a restart).
	case c.Socket != 0:
		ino := uint32(c.Socket)
		if i, ok := d.ino[ino]; ok && int(i) < len(rows) && rows[i].Socket == c.Socket && rows[i].Remote.Port() == 0 {
			rows[i] = *c
			return rows
		}
		d.ino[ino] = n
		return append(rows, *c)
	}
	t := [2]netip.AddrPort{c.Local, c.Remote}
	if i, ok := d.tuple[t]; ok && int(i) < len(rows) && rows[i].Local == c.Local && rows[i].Remote == c.Remote &&
		(c.Remote.Port() != 0 || rows[i].Socket == 0) {
		rows[i] = *c
		return rows
	}
	d.tuple[t] = n
	return append(rows, *c)
}
