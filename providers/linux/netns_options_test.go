package linux

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/providers/internal/option"
)

func TestOptionsAllNetNS(t *testing.T) {
	c := defaultConfig()
	require.NoError(t, option.Apply(&c, []Option{WithAllNetNS()}))
	assert.True(t, c.allNetNS)
	assert.NoError(t, c.check())
}

// TestOptionsNetNSExclusive: on every OS, New refuses WithAllNetNS with
// WithNetNS, in either order, before anything else.
func TestOptionsNetNSExclusive(t *testing.T) {
	for _, opts := range [][]Option{
		{WithAllNetNS(), WithNetNS("/run/netns/x")},
		{WithNetNS("/run/netns/x"), WithAllNetNS()},
	} {
		p, err := New(opts...)
		assert.Nil(t, p)
		require.ErrorIs(t, err, tcptable.ErrInvalid)
		assert.False(t, errors.Is(err, tcptable.ErrNotSupported), "invalid options are reported first")
		assert.ErrorContains(t, err, "tcptable/linux: New: invalid input: WithAllNetNS() and WithNetNS(/run/netns/x): they exclude each other")
	}
}
