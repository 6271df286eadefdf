//go:build !windows

package windows

import (
	"context"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcptable/tcptable"
)

func TestNewNotSupported(t *testing.T) {
	p, err := New()
	require.Error(t, err)
	assert.Nil(t, p)
	assert.ErrorIs(t, err, tcptable.ErrNotSupported)
	assert.Contains(t, err.Error(), runtime.GOOS)

	_, err = New(WithRetries(0))
	assert.ErrorIs(t, err, tcptable.ErrInvalid, "bad options are reported first")
	assert.ErrorContains(t, err, "tcptable/windows: New: invalid input: WithRetries(0): ")

	var zero Provider
	_, err = zero.Table(context.Background(), tcptable.Query{})
	assert.ErrorIs(t, err, tcptable.ErrNotSupported)
	assert.ErrorIs(t, zero.Kill(context.Background(), tcptable.Connection{}), tcptable.ErrNotSupported)
	assert.NoError(t, zero.Close())
}
