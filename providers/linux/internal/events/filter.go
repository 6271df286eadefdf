package events

// Filter selects the records the programs write: the cheap conditions of
// a query, checked in the kernel before a record is reserved. A record
// passes when its family is in Families, its ports satisfy the port
// conditions, and its old or its new kernel state is in States. Filters
// only pre-select; the exact query is applied to what they let through.
type Filter struct {
	// Families: bit 0 AF_INET, bit 1 AF_INET6.
	Families uint8
	// States is a bitmask of kernel TCP states (bit N = state N).
	States uint32
	// LocalPort, RemotePort and Port (either end), when not 0.
	LocalPort, RemotePort, Port uint16
}

// The Families bits.
const (
	FamilyIPv4 = 1 << 0
	FamilyIPv6 = 1 << 1
)

// All is the filter that lets every record through.
var All = Filter{Families: FamilyIPv4 | FamilyIPv6, States: ^uint32(0)}

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
