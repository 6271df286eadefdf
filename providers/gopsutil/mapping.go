package gopsutil

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/shirou/gopsutil/v4/net"

	"github.com/tcptable/tcptable"
)

// maxPort is the largest TCP port; gopsutil carries ports in a uint32.
const maxPort = 1<<16 - 1

// convert maps one gopsutil row, as gopsutil reports it on the OS that d
// describes, into a Connection. It fills State, OSState, Local, Remote, PID
// (as reported, before any owner policy) and, when gopsutil reports process
// UIDs, UID with the effective UID. Owner statuses are left to the caller.
//
// Addresses: gopsutil gives IPs as text. "" and "*" mean the wildcard of the
// row's family; brackets are dropped; an IPv6 zone is kept. The row's family
// decides how IPv4 text reads: in an AF_INET6 row "127.0.0.1" is the
// IPv4-mapped ::ffff:127.0.0.1 (gopsutil prints mapped addresses that way
// on Linux and Windows), and the row stays IPv6. A plain IPv6 address is
// IPv6 whatever the family says (AIX's netstat reports dual-stack sockets as
// "tcp", which gopsutil calls AF_INET).
//
// A listener's Remote is the unspecified address of Local's family, port 0.
// Bad input is an error wrapping tcptable.ErrInvalid that quotes the row.
func convert(cs *net.ConnectionStat, d *dialect) (tcptable.Connection, error) {
	var c tcptable.Connection
	v6, err := rowFamily(cs.Family, d)
	if err != nil {
		return c, rowError(cs, err)
	}
	if c.State, err = tcptable.ParseState(cs.Status); err != nil {
		return c, rowError(cs, err)
	}
	c.OSState = d.states[cs.Status]
	if c.Local, err = parseEndpoint(cs.Laddr, v6); err != nil {
		return c, rowError(cs, fmt.Errorf("local address: %w", err))
	}
	v6 = c.Local.Addr().Is6()
	if c.State == tcptable.StateListen {
		c.Remote = netip.AddrPortFrom(unspecified(v6), 0)
	} else if c.Remote, err = parseEndpoint(cs.Raddr, v6); err != nil {
		return c, rowError(cs, fmt.Errorf("remote address: %w", err))
	}
	if cs.Pid < 0 {
		return c, rowError(cs, fmt.Errorf("negative PID %d", cs.Pid))
	}
	c.PID = uint32(cs.Pid)
	if uid, ok := effectiveUID(cs.Uids); ok {
		c.UID, c.HasUID = uid, true
	}
	return c, nil
}

// rowError wraps err with tcptable.ErrInvalid and the row gopsutil gave.
func rowError(cs *net.ConnectionStat, err error) error {
	return fmt.Errorf("%w: row %s: %w", tcptable.ErrInvalid, cs.String(), err)
}

// rowFamily reports whether family, gopsutil's ConnectionStat.Family on the
// OS d describes, is AF_INET6.
func rowFamily(family uint32, d *dialect) (v6 bool, err error) {
	switch family {
	case d.afInet:
		return false, nil
	case d.afInet6:
		return true, nil
	}
	return false, fmt.Errorf("address family %d is neither AF_INET (%d) nor AF_INET6 (%d) on %s",
		family, d.afInet, d.afInet6, d.goos)
}

// parseEndpoint turns gopsutil's textual address into an AddrPort of the
// family v6 selects (see convert).
func parseEndpoint(a net.Addr, v6 bool) (netip.AddrPort, error) {
	if a.Port > maxPort {
		return netip.AddrPort{}, fmt.Errorf("port %d out of range", a.Port)
	}
	port := uint16(a.Port)
	text := strings.TrimSuffix(strings.TrimPrefix(a.IP, "["), "]")
	if text == "" || text == "*" {
		return netip.AddrPortFrom(unspecified(v6), port), nil
	}
	ip, err := netip.ParseAddr(text)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("IP %q: %w", a.IP, err)
	}
	switch {
	case v6 && ip.Is4():
		ip = netip.AddrFrom16(ip.As16())
	case !v6 && ip.Is4In6():
		ip = ip.Unmap()
	}
	return netip.AddrPortFrom(ip, port), nil
}

// unspecified returns 0.0.0.0 or ::.
func unspecified(v6 bool) netip.Addr {
	if v6 {
		return netip.IPv6Unspecified()
	}
	return netip.IPv4Unspecified()
}

// effectiveUID picks the effective UID out of gopsutil's process UIDs
// (real, effective, saved, filesystem on Linux): the one a socket is
// created with.
func effectiveUID(uids []int32) (uint32, bool) {
	i := min(1, len(uids)-1)
	if i < 0 || uids[i] < 0 {
		return 0, false
	}
	return uint32(uids[i]), true
}

// ownerlessStatus says why a row in state st came without an owning PID
// from gopsutil on the OS d describes. privileged reports whether the
// caller can inspect every process (root; always on Windows, whose table
// carries the PID itself).
//
//   - gopsutil reports no PIDs on this OS at all: OwnerNotSupported.
//   - TIME-WAIT and SYN-RECEIVED rows belong to the kernel: the first
//     outlives its process, the second is a half-open request no process
//     has accepted yet.
//   - Without privilege a hidden owner is most likely another user's
//     process: OwnerPermissionDenied.
//   - With privilege, FIN-WAIT-1/2, CLOSING and LAST-ACK rows are sockets
//     their process has closed and the kernel is finishing: OwnerKernel.
//     Any other state means no visible process holds the socket (it lives
//     in another namespace, or was passed on and closed): OwnerNotFound.
func ownerlessStatus(st tcptable.State, d *dialect, privileged bool) tcptable.OwnerStatus {
	switch {
	case !d.owners:
		return tcptable.OwnerNotSupported
	case st == tcptable.StateTimeWait || st == tcptable.StateSynReceived:
		return tcptable.OwnerKernel
	case !privileged:
		return tcptable.OwnerPermissionDenied
	}
	switch st {
	case tcptable.StateFinWait1, tcptable.StateFinWait2, tcptable.StateClosing, tcptable.StateLastAck:
		return tcptable.OwnerKernel
	}
	return tcptable.OwnerNotFound
}

// socketKey identifies one socket among gopsutil's rows, which carry no
// socket identity of their own.
type socketKey struct {
	local, remote netip.AddrPort
	state         tcptable.State
}

// mergeOwners folds rows that describe one socket into one row, in place,
// and returns the shortened slice. lsof (darwin, freebsd) prints a line per
// process and descriptor that holds a socket, so a listener shared by a
// forked server's workers comes several times; the merged row has the
// lowest PID as PID and the others, ascending, in OtherPIDs. Rows are
// alike when Local, Remote and State are: gopsutil gives no socket
// identity, so SO_REUSEPORT listeners on one address merge too.
func mergeOwners(conns []tcptable.Connection) []tcptable.Connection {
	seen := make(map[socketKey]int, len(conns))
	out := conns[:0]
	for _, c := range conns {
		k := socketKey{c.Local, c.Remote, c.State}
		if i, ok := seen[k]; ok {
			addOwner(&out[i], c.PID)
			continue
		}
		seen[k] = len(out)
		out = append(out, c)
	}
	clear(conns[len(out):])
	return out
}

// addOwner adds pid to c's owners, keeping PID the lowest and OtherPIDs
// sorted and free of repeats.
func addOwner(c *tcptable.Connection, pid uint32) {
	switch {
	case pid == 0 || pid == c.PID:
		return
	case c.PID == 0:
		c.PID = pid
		return
	case pid < c.PID:
		pid, c.PID = c.PID, pid
	}
	i, found := slices.BinarySearch(c.OtherPIDs, pid)
	if !found {
		c.OtherPIDs = slices.Insert(c.OtherPIDs, i, pid)
	}
}
