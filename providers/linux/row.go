package linux

import (
	"net/netip"
	"strconv"

	"github.com/tcptable/tcptable"
)

// zoner names an IPv6 zone from an interface index. The provider's zoner
// looks names up in the queried namespace and falls back to the decimal
// index; tests use fixed tables.
type zoner func(ifindex uint32) string

// numericZone is the zoner that always uses the decimal index.
func numericZone(ifindex uint32) string { return strconv.FormatUint(uint64(ifindex), 10) }

// connFromRow converts a decoded kernel row to a Connection without owner
// information. IPv4-mapped IPv6 addresses stay IPv6 (they come from
// dual-stack AF_INET6 sockets); a link-local or multicast IPv6 address gets
// the zone of the row's interface. DualStack comes from INET_DIAG_SKV6ONLY
// (an AF_INET6 socket on :: with IPV6_V6ONLY off). Listeners get the unspecified remote
// address and port 0, whatever the kernel put there. ok is false for a row
// of an unknown family.
func connFromRow(r *diagRow, zone zoner) (c tcptable.Connection, ok bool) {
	var local, remote netip.Addr
	switch r.Family {
	case afInet:
		local = netip.AddrFrom4([4]byte(r.Src[:4]))
		remote = netip.AddrFrom4([4]byte(r.Dst[:4]))
	case afInet6:
		local = netip.AddrFrom16(r.Src)
		remote = netip.AddrFrom16(r.Dst)
		if r.IfIndex != 0 && zone != nil {
			local = withZone(local, r.IfIndex, zone)
			remote = withZone(remote, r.IfIndex, zone)
		}
	default:
		return c, false
	}
	c.State, _ = stateFromKernel(r.State)
	c.OSState = uint32(r.State)
	c.Local = netip.AddrPortFrom(local, r.SPort)
	if c.State == tcptable.StateListen {
		if local.Is4() {
			remote = netip.IPv4Unspecified()
		} else {
			remote = netip.IPv6Unspecified()
		}
		c.Remote = netip.AddrPortFrom(remote, 0)
	} else {
		c.Remote = netip.AddrPortFrom(remote, r.DPort)
	}
	c.Socket = uint64(r.Inode)
	c.Interface = r.IfIndex
	// An AF_INET6 socket on :: with IPV6_V6ONLY off accepts IPv4 too. A
	// row without the attribute (another state, /proc/net) says nothing.
	c.DualStack = r.Family == afInet6 && r.HasV6Only && !r.V6Only && local.IsUnspecified()
	// TIME-WAIT and request sockets carry no owner: the kernel reports uid
	// 0 and inode 0 for them, which is no information.
	c.UID = r.UID
	c.HasUID = r.Inode != 0 || (r.State != tcpTimeWait && r.State != tcpSynRecv && r.State != tcpNewSynRecv)
	if !c.HasUID {
		c.UID = 0
	}
	return c, true
}

// withZone adds the interface's zone to a link-local unicast or multicast
// IPv6 address (the only ones a scope applies to).
func withZone(a netip.Addr, ifindex uint32, zone zoner) netip.Addr {
	if a.Is4In6() || !(a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() || a.IsInterfaceLocalMulticast()) {
		return a
	}
	return a.WithZone(zone(ifindex))
}
