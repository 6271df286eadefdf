package windows

import (
	"net/netip"

	"github.com/tcptable/tcptable"
)

// wineZones removes the zones of c's link-local addresses: under Wine an
// IPv6 scope id is not an interface index but Linux's address scope
// (IFA_LINK, 0x20) in the wrong byte order, 8192 for every link-local
// address whatever its interface (TestWineDeviations and the Wine-vs-Linux
// differential prove it). No zone is better than one naming an interface
// that does not exist.
func wineZones(c *tcptable.Connection) {
	c.Local, c.Remote = noZone(c.Local), noZone(c.Remote)
}

// noZone returns ap without its address' zone.
func noZone(ap netip.AddrPort) netip.AddrPort {
	if ap.Addr().Zone() == "" {
		return ap
	}
	return netip.AddrPortFrom(ap.Addr().WithZone(""), ap.Port())
}
