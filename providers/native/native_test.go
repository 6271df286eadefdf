package native

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/providers/mock"
)

// failing is a constructor that fails like a provider's New on the wrong OS.
func failing(name string, err error) candidate {
	return candidateOf(name, func() (*mock.Provider, error) { return nil, err })
}

func TestFirstPicksTheFirstThatWorks(t *testing.T) {
	want := mock.New()
	p, err := first("plan9", []candidate{
		failing("a", errors.New("no netlink")),
		candidateOf("b", func() (*mock.Provider, error) { return want, nil }),
		candidateOf("c", func() (*mock.Provider, error) { t.Fatal("c made after b worked"); return nil, nil }),
	})
	require.NoError(t, err)
	assert.Same(t, want, p)
}

func TestFirstNothingWorks(t *testing.T) {
	cause := errors.New("lsof not installed")
	p, err := first("freebsd", []candidate{failing("gopsutil", cause)})
	assert.Nil(t, p, "no typed nil inside the interface")
	require.ErrorIs(t, err, tcptable.ErrNotSupported)
	require.ErrorIs(t, err, cause)
	assert.Contains(t, err.Error(), "freebsd")
	assert.Contains(t, err.Error(), "gopsutil provider: lsof not installed")

	p, err = first("plan9", nil)
	assert.Nil(t, p)
	require.ErrorIs(t, err, tcptable.ErrNotSupported)
	assert.Contains(t, err.Error(), "plan9")
}

// TestNew makes the provider of the OS running the test and reads a table.
func TestNew(t *testing.T) {
	p, err := New()
	if errors.Is(err, tcptable.ErrNotSupported) {
		t.Skipf("no provider on this OS: %v", err)
	}
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, p.Close()) })
	_, err = p.Table(context.Background(), tcptable.Query{Owners: tcptable.OwnerNone})
	require.NoError(t, err)
}
