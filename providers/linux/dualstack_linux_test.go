package linux_test

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/conformance"
	"github.com/tcptable/tcptable/internal/testenv"
	"github.com/tcptable/tcptable/providers/linux"
)

// TestDualStackIPv4 opens two listeners on [::]:0 on the real kernel, one
// with IPV6_V6ONLY off (dual stack) and one with it on: the sock_diag
// source says which is which (INET_DIAG_SKV6ONLY), as ss does ("*:P"
// against "[::]:P"), and a Family IPv4 query finds the dual-stack one
// only, with or without a port, while a Family IPv6 query finds both.
// /proc/net cannot tell: it reports neither as dual stack, and its IPv4
// queries find neither.
func TestDualStackIPv4(t *testing.T) {
	env := conformance.OSEnv().(conformance.DualStackEnv)
	dual, err := env.ListenUnspecified(false)
	if err != nil {
		testenv.SkipOrFail(t, "cannot listen on [::] (IPv6 disabled?): %v", err)
	}
	defer dual.Close()
	only, err := env.ListenUnspecified(true)
	require.NoError(t, err)
	defer only.Close()
	dp, op := dual.Addr().Port(), only.Addr().Port()

	ss := testenv.LookPath(t, "ss", "apt-get install iproute2")
	out, err := exec.Command(ss, "-tlnH").Output()
	require.NoError(t, err)
	assert.Contains(t, string(out), fmt.Sprintf(" *:%d ", dp), "ss shows the dual-stack listener as *")
	assert.Contains(t, string(out), fmt.Sprintf(" [::]:%d ", op), "ss shows the V6ONLY listener as [::]")

	ports := func(rows []tcptable.Connection) map[uint16]bool {
		m := map[uint16]bool{}
		for _, c := range rows {
			if c.Local.Port() == dp || c.Local.Port() == op {
				m[c.Local.Port()] = c.DualStack
			}
		}
		return m
	}
	for _, src := range []linux.Source{linux.SourceNetlink, linux.SourceProcNet} {
		t.Run(strings.ToLower(src.String()), func(t *testing.T) {
			p := newOrSkip(t, linux.WithSource(src))
			defer p.Close()
			table := func(q tcptable.Query) map[uint16]bool {
				t.Helper()
				rows, err := p.Table(context.Background(), q)
				require.NoError(t, err)
				return ports(rows)
			}
			netlink := src == linux.SourceNetlink
			all := table(tcptable.Query{Owners: tcptable.OwnerNone})
			assert.Equal(t, map[uint16]bool{dp: netlink, op: false}, all, "DualStack of both listeners")
			assert.Equal(t, map[uint16]bool{dp: netlink, op: false}, table(tcptable.Query{Family: tcptable.IPv6, Class: tcptable.ClassListeners}))
			want := map[uint16]bool{}
			if netlink {
				want[dp] = true
			}
			assert.Equal(t, want, table(tcptable.Query{Family: tcptable.IPv4}), "Family IPv4")
			assert.Equal(t, want, table(tcptable.Query{Family: tcptable.IPv4, LocalPort: dp, Class: tcptable.ClassListeners}), "Family IPv4, the dual-stack port")
			assert.Empty(t, table(tcptable.Query{Family: tcptable.IPv4, LocalPort: op}), "Family IPv4, the V6ONLY port")
			assert.Empty(t, table(tcptable.Query{Family: tcptable.IPv4, Class: tcptable.ClassConnections}), "no dual-stack connection")
		})
	}
}
