package linux

import "github.com/tcptable/tcptable/providers/internal/option"

// WithAllNetNS makes one table of every network namespace of the host:
// those that processes use (/proc/PID/ns/net, one per inode) and those
// bind-mounted under /run/netns (as `ip netns add` makes them). Each
// namespace's sockets are dumped over a sock_diag socket opened inside it
// (on a locked OS thread, as WithNetNS does) and kept for the next call
// until the namespace disappears; namespaces are dumped in parallel, and
// owners are found once for all of them. Every row carries its NetNS and,
// where /run/netns names it, NetNSName.
//
// Entering another namespace needs CAP_SYS_ADMIN. A caller without it
// (any unprivileged user) gets the rows of its own namespace, with no
// error, and NetNamespaces lists every namespace found with why it was
// skipped (an error wrapping tcptable.ErrPermission). It cannot see the
// namespaces of other users' processes at all.
//
// Kernel events follow one namespace, so a WithAllNetNS provider does not
// trace (Trace returns an error wrapping tcptable.ErrNotSupported, and
// tcptable.Watch polls), Created is filled for the caller's namespace's
// sockets only, and Kill ends a row in the namespace its NetNS names,
// from a sock_diag socket opened inside it.
//
// WithAllNetNS and WithNetNS exclude each other: New fails with an error
// wrapping tcptable.ErrInvalid when both are given.
func WithAllNetNS() Option {
	return func(c *config) error { c.allNetNS = true; return nil }
}

// check rejects options that exclude each other.
func (c *config) check() error {
	if c.allNetNS && c.netns != "" {
		return option.Invalid("WithAllNetNS() and WithNetNS("+c.netns+")", "they exclude each other")
	}
	return nil
}

// NetNS describes a network namespace a Table call read or tried to read.
type NetNS struct {
	// Inode is the namespace's inode number, as in Connection.NetNS.
	Inode uint64
	// Name is its name under /run/netns, as in Connection.NetNSName; ""
	// if it has none.
	Name string
	// Err is nil when the namespace's table was read, otherwise why it
	// was not: an error wrapping tcptable.ErrPermission when the caller
	// may not enter it (setns needs CAP_SYS_ADMIN), or one wrapping
	// fs.ErrNotExist when it disappeared before it could be entered.
	Err error
}
