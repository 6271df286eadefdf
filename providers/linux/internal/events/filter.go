package events

// Filter selects the records the programs write: the cheap conditions of
// a query, checked in the kernel before a record is reserved. A record
// passes when its family is in Families, its ports satisfy the port
// conditions, and its old or its new kernel state is in States. Filters
// only pre-select; the exact query is applied to what they let through.
type Filter struct {
	// Families is a set of the Family* bits.
	Families uint8
	// States is a bitmask of kernel TCP states (bit N = state N).
	States uint32
	// LocalPort, RemotePort and Port (either end), when not 0.
	LocalPort, RemotePort, Port uint16
}

// The Families bits (the program's FAMILY_*).
const (
	// FamilyIPv4 lets AF_INET sockets through.
	FamilyIPv4 = 1 << 0
	// FamilyIPv6 lets AF_INET6 sockets through.
	FamilyIPv6 = 1 << 1
	// FamilyDualStack lets through the dual-stack AF_INET6 sockets
	// (bound to :: with IPV6_V6ONLY off, which accept IPv4 too), which
	// FamilyIPv6 includes: what an IPv4 query needs of AF_INET6.
	FamilyDualStack = 1 << 2
)

// All returns the filter that lets every record through.
func All() Filter {
	return Filter{Families: FamilyIPv4 | FamilyIPv6, States: ^uint32(0)}
}

// Union returns a filter that lets through everything a or b does.
func Union(a, b Filter) Filter {
	u := Filter{Families: a.Families | b.Families, States: a.States | b.States}
	if a.LocalPort == b.LocalPort {
		u.LocalPort = a.LocalPort
	}
	if a.RemotePort == b.RemotePort {
		u.RemotePort = a.RemotePort
	}
	if a.Port == b.Port {
		u.Port = a.Port
	}
	return u
}
