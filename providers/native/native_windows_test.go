package native_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcptable/tcptable/providers/native"
	"github.com/tcptable/tcptable/providers/windows"
)

// TestWindowsChoosesGetExtendedTcpTable: on Windows (and Wine) New is the
// native GetExtendedTcpTable provider, not the gopsutil fallback.
func TestWindowsChoosesGetExtendedTcpTable(t *testing.T) {
	p, err := native.New()
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, p.Close()) })
	assert.IsType(t, (*windows.Provider)(nil), p)
}
