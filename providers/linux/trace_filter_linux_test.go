package linux

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/providers/linux/internal/events"
)

// TestKernelFilterFamilies: the programs' families are those Table reads
// (Query.ReadFamily): an IPv4 query that can select a listener or a bound
// socket lets through the dual-stack AF_INET6 sockets, and no other
// AF_INET6 socket.
func TestKernelFilterFamilies(t *testing.T) {
	const v4, v6, dual = events.FamilyIPv4, events.FamilyIPv6, events.FamilyDualStack
	for _, c := range []struct {
		q    tcptable.Query
		want uint8
	}{
		{tcptable.Query{}, v4 | v6},
		{tcptable.Query{Family: tcptable.IPv6}, v6},
		{tcptable.Query{Family: tcptable.IPv4}, v4 | dual},
		{tcptable.Query{Family: tcptable.IPv4, Class: tcptable.ClassListeners}, v4 | dual},
		{tcptable.Query{Family: tcptable.IPv4, States: []tcptable.State{tcptable.StateClosed}}, v4 | dual},
		{tcptable.Query{Family: tcptable.IPv4, Class: tcptable.ClassConnections, States: []tcptable.State{tcptable.StateEstablished}}, v4},
		{tcptable.Query{Family: tcptable.IPv4, States: []tcptable.State{tcptable.StateEstablished}}, v4},
	} {
		assert.Equal(t, c.want, kernelFilter(c.q).Families, "%+v", c.q)
	}
	// Several traces: the union lets through what each needs.
	assert.Equal(t, uint8(v4|v6|dual), events.Union(kernelFilter(tcptable.Query{Family: tcptable.IPv4}), kernelFilter(tcptable.Query{Family: tcptable.IPv6})).Families)
}
