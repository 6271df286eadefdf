//go:build linux

package native_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/conformance"
	"github.com/tcptable/tcptable/internal/tracegap"
	"github.com/tcptable/tcptable/providers/linux"
	"github.com/tcptable/tcptable/providers/native"
)

// TestLinuxChoosesNetlink: on Linux New is the netlink provider, and what it
// returns passes the suite.
func TestLinuxChoosesNetlink(t *testing.T) {
	p, err := native.New()
	require.NoError(t, err)
	lp, ok := p.(*linux.Provider)
	require.True(t, ok, "native.New returned %T", p)
	gaps := tracegap.Options(t, lp)
	require.NoError(t, p.Close())
	conformance.Run(t, func(t *testing.T) (tcptable.Provider, conformance.Env) {
		p, err := native.New()
		require.NoError(t, err)
		assert.IsType(t, (*linux.Provider)(nil), p)
		return p, conformance.OSEnv()
	}, gaps...)
}
