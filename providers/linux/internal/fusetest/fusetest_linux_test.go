package fusetest

import (
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// TestFreeze: the file can be opened and stat-ed while the server
// answers; once frozen a stat waits, and Abort releases it with an error
// (ECONNABORTED).
func TestFreeze(t *testing.T) {
	fs, err := Mount(t.TempDir())
	if err != nil {
		t.Skipf("%v: run as root with /dev/fuse", err)
	}
	defer fs.Abort()
	f, err := os.Open(fs.Path())
	require.NoError(t, err)
	defer f.Close()
	st, err := f.Stat()
	require.NoError(t, err)
	assert.True(t, st.Mode().IsRegular())

	fs.Freeze()
	done := make(chan error, 1)
	go func() {
		var st unix.Stat_t
		done <- unix.Fstat(int(f.Fd()), &st)
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
