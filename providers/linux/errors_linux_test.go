package linux_test

import (
	"context"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/providers/linux"
)

// requirePrefixOnce checks that err starts with want and names the
// package once: the prefix is added at the API boundary only.
func requirePrefixOnce(t *testing.T, err error, want string) {
	t.Helper()
	require.Error(t, err)
	assert.True(t, strings.HasPrefix(err.Error(), want), "%q does not start with %q", err, want)
	assert.Equal(t, 1, strings.Count(err.Error(), "tcptable/linux"), "%q names the package more than once", err)
}

func TestErrorPrefixOnce(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing")
	_, err := linux.New(linux.WithNetNS(missing))
	requirePrefixOnce(t, err, "tcptable/linux: New: open network namespace "+missing+": ")
	assert.ErrorIs(t, err, fs.ErrNotExist)

	_, err = linux.New(linux.WithProcRoot(missing))
	requirePrefixOnce(t, err, "tcptable/linux: New: open proc root "+missing+": ")
	assert.ErrorIs(t, err, fs.ErrNotExist)

	p, err := linux.New(linux.WithSource(linux.SourceProcNet), linux.WithProcRoot(t.TempDir()),
		linux.WithOwnerScan(linux.OwnerScanProcfs))
	require.NoError(t, err, "a /proc root without processes is not checked before a Table call")
	_, err = p.Table(context.Background(), tcptable.Query{})
	requirePrefixOnce(t, err, "tcptable/linux: Table: ")
	assert.ErrorIs(t, err, fs.ErrNotExist, "no net/tcp under that root")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = p.Table(ctx, tcptable.Query{})
	requirePrefixOnce(t, err, "tcptable/linux: Table: ")
	assert.ErrorIs(t, err, context.Canceled)

	// A query Validate rejects: the provider's prefix, then the cause, and
	// the text names the project once.
	_, err = p.Table(context.Background(), tcptable.Query{Class: 7})
	assert.EqualError(t, err, "tcptable/linux: Table: query: invalid input: unknown Class Class(7)")
	assert.ErrorIs(t, err, tcptable.ErrInvalid)

	require.NoError(t, p.Close())
	_, err = p.Table(context.Background(), tcptable.Query{})
	requirePrefixOnce(t, err, "tcptable/linux: Table: ")
	assert.ErrorIs(t, err, tcptable.ErrClosed)
}
