package tcptable

import (
	"net/netip"
	"strconv"
)

// Key is a connection's identity: it stays the same while the connection
// moves through its states (ESTABLISHED, FIN-WAIT-1, ..., TIME-WAIT) and its
// owner changes, and it differs between any two rows of one snapshot.
//
// For a connected socket the identity is its address four-tuple, which TCP
// itself guarantees unique. For a socket without a remote end (a listener,
// or a bound socket that is not connected) the tuple is not enough: several
// SO_REUSEPORT (Linux) or SO_REUSEADDR (Windows) listeners may share one
// address. Their Key adds a discriminator: the OS's socket identity
// (Connection.Socket, the inode on Linux) where the provider knows it,
// otherwise the owning PID. A listener's Key is therefore stable for the
// socket's life on Linux, and for the owner's life on Windows.
//
// Rows of different network namespaces (Connection.NetNS) may share every
// address; their Keys differ by NetNS. The Linux provider sets NetNS on
// every row, whichever namespaces it reads, so a socket has the same Key
// whether it is read alone or with every namespace; a Key built by hand
// from addresses must carry it too. Providers of OSes without network
// namespaces leave it 0.
//
// Key is comparable and usable as a map key.
type Key struct {
	// NetNS is Connection.NetNS: 0 unless the provider reports namespaces.
	NetNS         uint64
	Local, Remote netip.AddrPort
	// ID is 0 for a connected socket; for an unconnected one it is the
	// socket identity with bit 63 clear, or the PID with bit 63 set.
	ID uint64
}

// keyPIDFlag marks a Key.ID that holds a PID rather than a socket identity.
const keyPIDFlag = 1 << 63

// Key returns c's identity. See Key for how listeners are told apart.
func (c Connection) Key() Key {
	k := Key{NetNS: c.NetNS, Local: c.Local, Remote: c.Remote}
	if c.Remote.Port() != 0 {
		return k
	}
	if c.Socket != 0 {
		k.ID = c.Socket &^ keyPIDFlag
	} else {
		k.ID = keyPIDFlag | uint64(c.PID)
	}
	return k
}

// String returns "local remote" with a "#ID" suffix for unconnected sockets
// and a "netns:N " prefix when NetNS is set, for logs and test messages.
func (k Key) String() string {
	s := k.Local.String() + " " + k.Remote.String()
	if k.NetNS != 0 {
		s = "netns:" + strconv.FormatUint(k.NetNS, 10) + " " + s
	}
	if k.ID != 0 {
		s += " #" + strconv.FormatUint(k.ID, 16)
	}
	return s
}
