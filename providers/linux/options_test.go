package linux

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/providers/internal/option"
)

func TestOptions(t *testing.T) {
	c := defaultConfig()
	require.NoError(t, option.Apply(&c, []Option{
		WithProcRoot("/host/proc"), WithNetNS("/run/netns/x"), WithSource(SourceProcNet),
		WithOwnerScan(OwnerScanProcfs), WithoutOwnerCache(), WithDumpRetries(-2), WithWorkers(64),
		WithOwnerRevalidate(-time.Second), WithFirstOwnerOnly(), nil,
	}))
	assert.Equal(t, config{
		procRoot: "/host/proc", netns: "/run/netns/x", source: SourceProcNet, ownerScan: OwnerScanProcfs,
		noCache: true, dumpRetries: 0, workers: 64, revalidate: 0, firstOwner: true,
	}, c, "negative retries and revalidation count as 0, as documented")
}

// TestOptionsInvalid checks, on every OS, that New rejects an option's
// argument it cannot use with an error wrapping tcptable.ErrInvalid that
// names the option, before it does anything else.
func TestOptionsInvalid(t *testing.T) {
	for _, tc := range []struct {
		opt  Option
		call string
	}{
		{WithProcRoot(""), `WithProcRoot("")`},
		{WithNetNS(""), `WithNetNS("")`},
		{WithSource(SourceProcNet + 1), "WithSource(Source(3))"},
		{WithOwnerScan(OwnerScanProcfs + 1), "WithOwnerScan(OwnerScan(3))"},
		{WithWorkers(-1), "WithWorkers(-1)"},
		{WithWorkers(maxWorkers + 1), "WithWorkers(65)"},
	} {
		p, err := New(WithDumpRetries(1), tc.opt)
		require.Error(t, err, tc.call)
		assert.Nil(t, p)
		assert.ErrorIs(t, err, tcptable.ErrInvalid, tc.call)
		assert.False(t, errors.Is(err, tcptable.ErrNotSupported), "%s: invalid options are reported first", tc.call)
		assert.ErrorContains(t, err, "tcptable/linux: New: invalid input: "+tc.call+": ")
	}
}
