//go:build (darwin && !ios) || freebsd || openbsd || netbsd || aix

package native_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/internal/testenv"
	"github.com/tcptable/tcptable/providers/gopsutil"
	"github.com/tcptable/tcptable/providers/native"
)

// TestChoosesGopsutil: on the BSDs, macOS and AIX New is the gopsutil
// provider, or says which tool it misses.
func TestChoosesGopsutil(t *testing.T) {
	p, err := native.New()
	if errors.Is(err, tcptable.ErrNotSupported) {
		testenv.SkipOrFail(t, "gopsutil's tool is missing: %v", err)
	}
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, p.Close()) })
	assert.IsType(t, (*gopsutil.Provider)(nil), p)
}
