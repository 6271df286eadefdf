package linux

import (
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
	ino   map[uint32]int32
	tuple map[[2]netip.AddrPort]int32
	size  int // the inode map's initial size
}

func newDedup() *dedup {
	return &dedup{ino: map[uint32]int32{}, tuple: map[[2]netip.AddrPort]int32{}}
}

// reset forgets every row, keeping the maps' memory; the inode map is
// made anew for hint sockets when it was made for fewer, so that a large
// dump does not grow it by doubling.
func (d *dedup) reset(hint int) {
	if hint > d.size {
		d.ino, d.size = make(map[uint32]int32, hint), hint
	}
	clear(d.ino)
	clear(d.tuple)
}

// add appends c to rows, or overwrites the earlier row for the same socket.
// Indices of rows dropped since (a restarted dump truncates rows) are
// detected and ignored.
func (d *dedup) add(rows []tcptable.Connection, c *tcptable.Connection) []tcptable.Connection {
	n := int32(len(rows))
	if c.Socket != 0 && c.Remote.Port() == 0 {
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
