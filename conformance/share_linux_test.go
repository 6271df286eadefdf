package conformance_test

import (
	"errors"
	"os"
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
