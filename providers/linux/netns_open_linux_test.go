package linux_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/providers/linux"
)

// TestWithNetNSNotANamespace: WithNetNS of a file that is not a network
// namespace fails New at once (not each Table call later) with an
// *fs.PathError naming the path, wrapping tcptable.ErrInvalid, that says
// what the file is; a FIFO does not block New; the caller's own namespace
// file is accepted.
func TestWithNetNSNotANamespace(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	require.NoError(t, unix.Mkfifo(filepath.Join(dir, "fifo"), 0o600))
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	for path, kind := range map[string]string{
		file:                       "a regular file",
		dir:                        "a directory",
		filepath.Join(dir, "fifo"): "a FIFO",
		"/proc/self/ns/mnt":        "a mount namespace",
		"/proc/self/ns/uts":        "a UTS namespace",
	} {
		t.Run(filepath.Base(path), func(t *testing.T) {
			done := make(chan error, 1)
			go func() {
				p, err := linux.New(linux.WithNetNS(path))
				if err == nil {
					p.Close()
				}
				done <- err
			}()
			var err error
			select {
			case err = <-done:
			case <-time.After(time.Minute):
				t.Fatalf("New(WithNetNS(%s)) blocks", path)
			}
			require.ErrorIs(t, err, tcptable.ErrInvalid)
			var pe *fs.PathError
			require.True(t, errors.As(err, &pe), "%v is no *fs.PathError", err)
			assert.Equal(t, path, pe.Path)
			assert.Equal(t, "tcptable/linux: New: open network namespace "+path+": not a network namespace but "+kind+
				" (want a name under /run/netns or a namespace file such as /proc/PID/ns/net)", err.Error())
		})
	}
	p, err := linux.New(linux.WithNetNS("/proc/self/ns/net"))
	if os.Geteuid() != 0 {
		// setns(2) needs CAP_SYS_ADMIN even for the caller's own
		// namespace: New says so rather than failing later.
		require.ErrorIs(t, err, tcptable.ErrPermission, "unprivileged WithNetNS of the caller's own namespace")
		return
	}
	require.NoError(t, err, "the caller's own namespace is a network namespace")
	require.NoError(t, p.Close())
}
