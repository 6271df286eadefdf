package conformance_test

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/conformance"
	"github.com/tcptable/tcptable/internal/testenv"
	"github.com/tcptable/tcptable/providers/mock"
)

// TestOSEnvShare checks OSEnv's Share without a provider: the child holds
// a socket as descriptor 3, stop reaps it (and is idempotent), and a
// listener of another Env is refused.
func TestOSEnvShare(t *testing.T) {
	env, ok := conformance.OSEnv().(conformance.SharingEnv)
	require.True(t, ok, "OSEnv is a SharingEnv")
	ln, err := env.Listen("tcp4")
	require.NoError(t, err)
	defer ln.Close()
	pid, stop, err := env.Share(ln)
	if errors.Is(err, tcptable.ErrNotSupported) {
		testenv.SkipOrFail(t, "cannot share here: %v", err)
	}
	require.NoError(t, err)
	proc := "/proc/" + strconv.FormatUint(uint64(pid), 10)
	fd, err := os.Readlink(proc + "/fd/3")
	require.NoError(t, err, "the child holds descriptor 3")
	assert.True(t, strings.HasPrefix(fd, "socket:["), "descriptor 3 of the child is %q, want a socket", fd)
	require.NoError(t, stop())
	require.NoError(t, stop(), "stop is idempotent")
	_, err = os.Stat(proc)
	assert.ErrorIs(t, err, os.ErrNotExist, "the child is reaped after stop")

	foreign, err := mock.New().Listen("tcp4")
	require.NoError(t, err)
	_, _, err = env.Share(foreign)
	assert.ErrorIs(t, err, tcptable.ErrInvalid)
}

// TestOSEnvListenAs checks OSEnv's ListenAs without a provider: the child
// runs under the long name (the kernel keeps its first 15 bytes), holds a
// socket as descriptor 3, and Close reaps it; a name with a slash is
// refused.
func TestOSEnvListenAs(t *testing.T) {
	env, ok := conformance.OSEnv().(conformance.NamingEnv)
	require.True(t, ok, "OSEnv is a NamingEnv")
	ln, pid, err := env.ListenAs("tcp4", conformance.LongName)
	if errors.Is(err, tcptable.ErrNotSupported) {
		testenv.SkipOrFail(t, "cannot start a named process here (it runs a copy of sleep: apt-get install coreutils): %v", err)
	}
	require.NoError(t, err)
	defer ln.Close()
	proc := "/proc/" + strconv.FormatUint(uint64(pid), 10)
	exe, err := os.Readlink(proc + "/exe")
	require.NoError(t, err)
	assert.Equal(t, conformance.LongName, filepath.Base(exe))
	comm, err := os.ReadFile(proc + "/comm")
	require.NoError(t, err)
	assert.Equal(t, conformance.LongName[:15]+"\n", string(comm), "the kernel keeps 15 bytes")
	fd, err := os.Readlink(proc + "/fd/3")
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(fd, "socket:["), "descriptor 3 of the child is %q, want a socket", fd)
	require.NoError(t, ln.Close())
	require.NoError(t, ln.Close(), "Close is idempotent")
	_, err = os.Stat(proc)
	assert.ErrorIs(t, err, os.ErrNotExist, "the child is reaped after Close")
	_, err = os.Stat(filepath.Dir(exe))
	assert.ErrorIs(t, err, os.ErrNotExist, "the copy is removed")

	_, _, err = env.ListenAs("tcp4", "a/b")
	assert.ErrorIs(t, err, tcptable.ErrInvalid)
}
