package linux

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"syscall"

	"github.com/tcptable/tcptable"
)

// The Linux errno values the kill path tells apart, spelled out (as the
// wire constants are) so that the mapping is the same where it is tested
// on other OSes, whose syscall package numbers some errors differently.
const (
	errnoEPERM      = syscall.Errno(1)
	errnoENOENT     = syscall.Errno(2)
	errnoEACCES     = syscall.Errno(13)
	errnoEINVAL     = syscall.Errno(22)
	errnoEOPNOTSUPP = syscall.Errno(95)
)

// sockIDOf returns the socket identity of c for a point lookup, without a
// cookie (INET_DIAG_NOCOOKIE): the family of Local, both addresses (an
// IPv4-mapped IPv6 address stays an AF_INET6 address, as the kernel
// reported it), the ports and the interface (idiag_if, which the kernel's
// lookup uses as the device a bound or link-local socket must match). A
// row without a valid Local, or whose Remote is of another family, is an
// error wrapping tcptable.ErrInvalid.
func sockIDOf(c *tcptable.Connection) (sockID, error) {
	var id sockID
	la, ra := c.Local.Addr(), c.Remote.Addr()
	if !la.IsValid() {
		return id, fmt.Errorf("%w: the row has no local address", tcptable.ErrInvalid)
	}
	if !ra.IsValid() { // a hand-written listener without a Remote
		ra = netip.IPv6Unspecified()
		if la.Is4() {
			ra = netip.IPv4Unspecified()
		}
	}
	if la.Is4() != ra.Is4() {
		return id, fmt.Errorf("%w: local %v and remote %v are of different families", tcptable.ErrInvalid, c.Local, c.Remote)
	}
	id.SPort, id.DPort = c.Local.Port(), c.Remote.Port()
	if la.Is4() {
		id.Family = afInet
		l, r := la.As4(), ra.As4()
		copy(id.Src[:], l[:])
		copy(id.Dst[:], r[:])
	} else {
		id.Family = afInet6
		id.Src, id.Dst = la.As16(), ra.As16()
	}
	id.IfIndex = c.Interface
	id.Cookie = inetDiagNoCookie
	return id, nil
}

// exchange sends one exact request (buildExactRequest's typ, id and ext)
// and returns the kernel's answer. An errno answer is returned as a
// syscall.Errno error. The Linux provider's exchange talks to the kernel
// over its sock_diag socket; tests use a simulated kernel.
type exchange func(ctx context.Context, typ uint16, id *sockID, ext uint8) (exactAnswer, error)

// killSocket ends the socket c names and verifies that the kernel no longer
// has it, in three exact requests (point lookups, never a dump):
//
//  1. find it (findSocket): the lookup must return exactly c's socket, or
//     Kill reports tcptable.ErrNotFound rather than end another one;
//  2. SOCK_DESTROY it by that socket's cookie, so that nothing else can be
//     hit if it vanished meanwhile;
//  3. look it up again by the same cookie: the kernel must say ENOENT.
func killSocket(ctx context.Context, ex exchange, c *tcptable.Connection) error {
	if c.State == tcptable.StateClosed {
		// BOUND_INACTIVE (and CLOSE) sockets are in no table the kernel's
		// lookup searches.
		return fmt.Errorf("%w: a socket that neither listens nor is connected (CLOSED) cannot be named to SOCK_DESTROY", tcptable.ErrNotSupported)
	}
	id, err := sockIDOf(c)
	if err != nil {
		return err
	}
	if err := findSocket(ctx, ex, c, &id); err != nil {
		return err
	}
	if _, err := ex(ctx, sockDestroy, &id, 0); err != nil {
		var errno syscall.Errno
		if !errors.As(err, &errno) {
			return fmt.Errorf("SOCK_DESTROY: %w", err)
		}
		ulp := ""
		if errno == errnoEINVAL { // why? An MPTCP listener says so in its ULP name.
			if a, err := ex(ctx, sockDiagByFamily, &id, extInfo); err == nil {
				ulp = a.ULP
			}
		}
		return killErrno(errno, c, ulp)
	}
	a, err := ex(ctx, sockDiagByFamily, &id, 0)
	switch {
	case errors.Is(err, errnoENOENT):
		return nil
	case err != nil:
		return fmt.Errorf("verify: look up the socket again: %w", err)
	}
	return fmt.Errorf("%w (state %d, inode %d)", errKillUnverified, a.Row.State, a.Row.Inode)
}

// findSocket looks up the socket c names and sets id's cookie (and, for a
// member of an SO_REUSEPORT group, the remote port that makes the kernel's
// lookup reach it), or returns an error wrapping tcptable.ErrNotFound when
// the kernel has no such socket. The answer must be exactly c's socket:
//
//   - same family, addresses and ports: for a four-tuple that is gone, the
//     kernel's lookup (inet_lookup: established sockets, then listeners)
//     returns the listener on the local port, which a SOCK_DESTROY by
//     address alone (INET_DIAG_NOCOOKIE, as vishvananda/netlink's
//     SocketDestroy sends) would end instead;
//   - for a connected row, the same socket inode when both are known, and
//     not a socket with an inode where the row was kernel-owned
//     (TIME-WAIT): that is a new connection on the same four-tuple;
//   - for a listener, the same inode (Key's discriminator), found among
//     the members of an SO_REUSEPORT group by varying the remote port of
//     the lookup (reuseportProbes).
func findSocket(ctx context.Context, ex exchange, c *tcptable.Connection, id *sockID) error {
	connected := c.Remote.Port() != 0
	a, err := lookupSame(ctx, ex, id, connected)
	if err != nil {
		return err
	}
	if connected {
		switch ino := uint64(a.Row.Inode); {
		case ino != 0 && c.Socket != 0 && ino != c.Socket:
			return fmt.Errorf("%w: the four-tuple now belongs to another socket (inode %d, the row's is %d)", tcptable.ErrNotFound, ino, c.Socket)
		case ino != 0 && c.Socket == 0 && c.State == tcptable.StateTimeWait:
			return fmt.Errorf("%w: the TIME-WAIT row is gone: a new connection (inode %d) has its four-tuple", tcptable.ErrNotFound, ino)
		}
		id.Cookie = a.Row.Cookie
		return nil
	}
	if c.Socket == 0 || uint64(a.Row.Inode) == c.Socket {
		id.Cookie = a.Row.Cookie
		return nil
	}
	others := map[uint32]bool{a.Row.Inode: true}
	for port := 1; port <= reuseportProbes; port++ {
		id.DPort = uint16(port)
		a, err := lookupSame(ctx, ex, id, false)
		switch {
		case errors.Is(err, tcptable.ErrNotFound):
			continue
		case err != nil:
			return err
		case uint64(a.Row.Inode) == c.Socket:
			id.Cookie = a.Row.Cookie
			return nil
		}
		others[a.Row.Inode] = true
	}
	return fmt.Errorf("%w: no listener with inode %d at %v (%d lookups found %d other listeners there)",
		tcptable.ErrNotFound, c.Socket, c.Local, reuseportProbes+1, len(others))
}

// lookupSame is a point lookup of id that accepts only the socket id
// names: a connected socket with the same four-tuple, or a listener on the
// same local address. Anything else, and the kernel's ENOENT, is an error
// wrapping tcptable.ErrNotFound.
func lookupSame(ctx context.Context, ex exchange, id *sockID, connected bool) (exactAnswer, error) {
	if err := ctx.Err(); err != nil {
		return exactAnswer{}, err
	}
	a, err := ex(ctx, sockDiagByFamily, id, 0)
	switch {
	case errors.Is(err, errnoENOENT):
		return a, fmt.Errorf("%w: the kernel has no such socket", tcptable.ErrNotFound)
	case err != nil:
		return a, fmt.Errorf("look up the socket: %w", err)
	}
	r := &a.Row
	same := r.Family == id.Family && r.SPort == id.SPort && r.Src == id.Src
	if connected {
		same = same && r.DPort == id.DPort && r.Dst == id.Dst
	} else {
		same = same && r.State == tcpListen
	}
	if !same {
		return a, fmt.Errorf("%w: the kernel's lookup found only another socket there (state %d, local port %d, remote port %d)",
			tcptable.ErrNotFound, r.State, r.SPort, r.DPort)
	}
	return a, nil
}

// reuseportProbes bounds the lookups Kill makes to find one listener of an
// SO_REUSEPORT group. The kernel's lookup picks a member by a hash of the
// remote end; varying the remote port in the request reaches each of n
// members with probability 1-(1-1/n)^probes (above 1-e^-16 for n = 64).
const reuseportProbes = 1024

// The errors the kernel gives a SOCK_DESTROY, and what they mean for Kill.
// killErrno turns errno, the kernel's answer to destroying c (whose
// upper-layer protocol is ulp, when known), into an error that wraps the
// tcptable sentinel it means and errno itself.
func killErrno(errno syscall.Errno, c *tcptable.Connection, ulp string) error {
	switch {
	case errno == errnoEPERM || errno == errnoEACCES:
		return fmt.Errorf("%w: SOCK_DESTROY needs CAP_NET_ADMIN in the socket's network namespace: %w", tcptable.ErrPermission, errno)
	case errno == errnoENOENT:
		return fmt.Errorf("%w: the kernel no longer has the socket: %w", tcptable.ErrNotFound, errno)
	case errno == errnoEOPNOTSUPP && c.State == tcptable.StateTimeWait:
		return fmt.Errorf("%w: this kernel cannot destroy TIME-WAIT sockets (or was built without CONFIG_INET_DIAG_DESTROY): %w", tcptable.ErrNotSupported, errno)
	case errno == errnoEOPNOTSUPP:
		return fmt.Errorf("%w: the kernel was built without CONFIG_INET_DIAG_DESTROY: %w", tcptable.ErrNotSupported, errno)
	case errno == errnoEINVAL && ulp == "mptcp":
		return fmt.Errorf("%w: the kernel refuses to destroy the TCP subflow of an MPTCP listener (programs built with Go 1.24 or later listen with MPTCP by default): %w", tcptable.ErrNotSupported, errno)
	case errno == errnoEINVAL:
		return fmt.Errorf("%w: the kernel refused SOCK_DESTROY (kernels before 4.5 do not have it): %w", tcptable.ErrNotSupported, errno)
	}
	return fmt.Errorf("SOCK_DESTROY: %w", errno)
}

// errKillUnverified says that the kernel acknowledged SOCK_DESTROY but
// still lists the socket.
var errKillUnverified = errors.New("the kernel acknowledged SOCK_DESTROY but still lists the socket")
