package tcptable

import (
	"net/netip"
	"strconv"
	"time"
)

// Connection is one row of the TCP table: one TCP endpoint of this host.
//
// The first six fields keep the semantics of the Windows
// MIB_TCPROW_OWNER_MODULE / MIB_TCP6ROW_OWNER_MODULE members they mirror;
// the rest carry what the OS knows beyond that structure, so that nothing a
// provider learns is lost. docs/model.md maps each field to its source on
// every OS.
type Connection struct {
	// State is the normalized state (dwState). OSState keeps the OS's own code.
	State State
	// Local is the local address and port (dwLocalAddr, dwLocalPort and, for
	// IPv6, dwLocalScopeId as the zone). The port is in host order.
	Local netip.AddrPort
	// Remote is the remote address and port (dwRemoteAddr, dwRemotePort).
	// For a listener it is the unspecified address of Local's family and
	// port 0: the MIB says the remote members have no meaning there.
	Remote netip.AddrPort
	// PID is the owning process (dwOwningPid). 0 means none or unknown;
	// OwnerStatus says which.
	PID uint32
	// Created is when the endpoint was created (liCreateTimestamp, a FILETIME
	// converted to UTC). The zero Time means it is not known: most OSes
	// record none, and the Linux provider records it (in the kernel, where
	// BPF is permitted) only for sockets born while it is open. FirstSeen
	// then offers the next best thing.
	Created time.Time
	// Module is the owning module (OwningModuleInfo resolved with
	// GetOwnerModuleFromTcpEntry). On other OSes it is the owning process'
	// name and executable. ModuleStatus says why it may be empty.
	Module Module

	// OSState is the OS's own state code for this row: dwState on Windows
	// (equal to State), the kernel's TCP_* value on Linux (1 ESTABLISHED ...
	// 12 NEW_SYN_RECV, 13 BOUND_INACTIVE). 0 if the provider has none.
	OSState uint32
	// OwnerStatus says whether PID is known and, if not, why.
	OwnerStatus OwnerStatus
	// ModuleStatus says whether Module is known and, if not, why.
	ModuleStatus OwnerStatus
	// ModuleSource says where Module came from.
	ModuleSource ModuleSource
	// OtherPIDs lists, in ascending order, further processes that hold the
	// same socket (inherited across fork, passed with SCM_RIGHTS or
	// DuplicateHandle). PID is the lowest owner; OtherPIDs never contains it.
	OtherPIDs []uint32
	// OwningModuleInfo is the raw, opaque OwningModuleInfo member
	// (ULONGLONG[16]) on Windows, nil elsewhere; kept as a pointer so that
	// other OSes do not pay 128 bytes a row.
	OwningModuleInfo *[16]uint64
	// Socket is the OS's identity of the socket where it has one: the socket
	// inode on Linux. 0 means unknown or none (TIME-WAIT sockets have none).
	Socket uint64
	// UID is the owning user on OSes that record one (Linux); meaningful only
	// when HasUID is true.
	UID uint32
	// HasUID reports whether UID is known.
	HasUID bool
	// Interface is the index of the network interface the socket is bound to
	// (SO_BINDTODEVICE on Linux), 0 for none or unknown.
	Interface uint32
	// DualStack is true for an IPv6 row whose socket has IPV6_V6ONLY off
	// and is bound to the unspecified address ::, so that it accepts IPv4
	// connections too (a listener on [::]:80 that also answers
	// 127.0.0.1:80; the connections it accepts from IPv4 peers are rows of
	// their own, with IPv4-mapped addresses). Such a row matches IPv4
	// queries as well as IPv6 ones (Query.MatchAddr). False where the OS
	// or provider does not say; docs/model.md lists which do.
	DualStack bool
	// FirstSeen is when a Watch first saw this connection; zero in a plain
	// Table answer. Where no creation time is known it is the best lower
	// bound on the connection's age that polling can offer.
	FirstSeen time.Time

	// Stats holds the connection's traffic counters when the Query asked
	// for them (Query.Stats) and the provider could read them; nil
	// otherwise. See Stats for each counter's source per OS.
	Stats *Stats
	// StatsStatus says whether Stats is filled and, if not, why.
	StatsStatus StatsStatus

	// NetNS is the network namespace the socket lives in, as the inode
	// number of its namespace file (/proc/PID/ns/net); 0 when unknown or on
	// OSes without network namespaces. Rows of different namespaces may
	// share an address four-tuple; Key tells them apart by NetNS.
	NetNS uint64
	// NetNSName is the namespace's name under /run/netns (as `ip netns`
	// names it), empty when it has none or NetNS is unknown.
	NetNSName string
	// Container is the ID of the container or pod the owning process runs
	// in, taken from its cgroup (docker, containerd, CRI-O, podman,
	// Kubernetes pod UIDs); empty when there is none or it is unknown.
	Container string
}

// Module names the executable module that owns a connection: on Windows the
// service or image that GetOwnerModuleFromTcpEntry reports
// (TCPIP_OWNER_MODULE_BASIC_INFO pModuleName and pModulePath), elsewhere the
// owning process' name and executable path.
type Module struct {
	Name string // module or process name, e.g. "svchost.exe" or "nginx"
	Path string // full path of the module or executable; may be empty
	// Service is the name of the service that owns the row when the OS
	// names one (a svchost-hosted Windows service, as
	// GetOwnerModuleFromTcpEntry reports it); Name and Path then name the
	// hosting process image. Empty elsewhere.
	Service string
}

// IsZero reports whether m names nothing.
func (m Module) IsZero() bool { return m == Module{} }

// Family returns the address family of the row: IPv4 for plain IPv4
// addresses, IPv6 for everything else, IPv4-mapped addresses included (they
// come from dual-stack AF_INET6 sockets).
func (c Connection) Family() Family {
	if c.Local.Addr().Is4() {
		return IPv4
	}
	return IPv6
}

// Owners returns every owning PID: PID followed by OtherPIDs, or nil if the
// owner is unknown.
func (c Connection) Owners() []uint32 {
	if c.PID == 0 && len(c.OtherPIDs) == 0 {
		return nil
	}
	return append([]uint32{c.PID}, c.OtherPIDs...)
}

// Clone returns a deep copy of c, sharing no memory with it.
func (c Connection) Clone() Connection {
	if c.OtherPIDs != nil {
		c.OtherPIDs = append([]uint32(nil), c.OtherPIDs...)
	}
	if c.OwningModuleInfo != nil {
		info := *c.OwningModuleInfo
		c.OwningModuleInfo = &info
	}
	if c.Stats != nil {
		st := *c.Stats
		c.Stats = &st
	}
	return c
}

// String describes the row in one line for logs and test messages, e.g.
// "ESTABLISHED 127.0.0.1:5000 -> 127.0.0.1:80 pid 1234 (nginx)" or
// "TIME-WAIT 127.0.0.1:5000 -> 127.0.0.1:80 owner kernel". Names the OS
// handed over are quoted where they hold anything but printable text.
func (c Connection) String() string {
	s := c.State.String() + " " + c.Local.String() + " -> " + c.Remote.String()
	if c.NetNS != 0 {
		s += " netns " + strconv.FormatUint(c.NetNS, 10)
	}
	if c.PID == 0 {
		return s + " owner " + c.OwnerStatus.String()
	}
	s += " pid " + strconv.FormatUint(uint64(c.PID), 10)
	for _, p := range c.OtherPIDs {
		s += "," + strconv.FormatUint(uint64(p), 10)
	}
	if c.Module.Name != "" {
		name := c.Module.Name
		if strconv.Quote(name) != `"`+name+`"` {
			name = strconv.Quote(name)
		}
		s += " (" + name + ")"
	}
	return s
}
