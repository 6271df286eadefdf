package fusetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/tcptable/tcptable/internal/testenv"
)

// TestFreeze: the file can be opened and stat-ed while the server
// answers; once frozen a stat waits, and Abort releases it with an error
// (ECONNABORTED).
func TestFreeze(t *testing.T) {
	fs, err := Mount(t.TempDir())
	if err != nil {
		testenv.SkipOrFail(t, "%v: run as root with /dev/fuse", err)
	}
	defer fs.Abort()
	defer time.AfterFunc(2*time.Minute, func() { fs.Abort() }).Stop() // never leave a thread stuck
	// Not os.Open: the runtime would register the file with its epoll,
	// which a FUSE file answers through its server.
	fd, err := unix.Open(fs.Path(), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	require.NoError(t, err)
	defer unix.Close(fd)
	var st unix.Stat_t
	require.NoError(t, unix.Fstat(fd, &st))
	assert.Equal(t, uint32(unix.S_IFREG), st.Mode&unix.S_IFMT)

	fs.Freeze()
	done := make(chan error, 1)
	go func() {
		var st unix.Stat_t
		done <- unix.Fstat(fd, &st)
	}()
	select {
	case err := <-done:
		t.Fatalf("fstat on a frozen server returned %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	require.NoError(t, fs.Abort())
	assert.Error(t, <-done, "the aborted connection fails the waiting fstat")
	require.NoError(t, fs.Abort(), "idempotent")
}
